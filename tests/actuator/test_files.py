"""Files through a real Chromium: a clicked export is kept as an artifact (bytes equal to
the page's), a refused type leaves its reason, a task's file reaches an upload form's server
byte for byte."""

from __future__ import annotations

import hashlib

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent
from macrohard.contracts.artifacts import ArtifactStored, DownloadRefused, TaskFile
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.eventlog.artifacts import ArtifactStore
from tests.actuator.conftest import TENANT, Running, element
from tests.files_site import ORDERS_CSV, files_site

CSV_ID = hashlib.sha256(ORDERS_CSV).hexdigest()


async def test_a_clicked_export_is_kept_and_a_refused_type_says_why(running: Running) -> None:
    site, _ = files_site()
    with site:
        await running.onboard(["127.0.0.1"])
        await running.submit("t-export", site.url("/orders"))
        _, first = await running.step(
            "t-export", 1, Intent(action="navigate", url=site.url("/orders"))
        )
        done, _ = await running.step(
            "t-export", 2, Intent(action="click", element=element(first, "Export CSV"))
        )
        assert done is not None and done.ok, done
        stored = await running.store.read_aggregate(TENANT, "artifact", CSV_ID)
        assert [type(r.payload) for r in stored] == [ArtifactStored]
        event = stored[0].payload
        assert isinstance(event, ArtifactStored)
        assert (event.name, event.content_type, event.size, event.task_id) == (
            "orders.csv",
            "text/csv",
            len(ORDERS_CSV),
            "t-export",
        )
        assert event.source == "download" and event.stored_bytes == len(ORDERS_CSV)
        files = ArtifactStore(running.actuator.nc)
        assert await files.get(TENANT, CSV_ID) == ORDERS_CSV

        await running.step(
            "t-export", 3, Intent(action="click", element=element(first, "Download tool"))
        )
        browser = await running.store.read_aggregate(TENANT, "browser", "t-export")
        refused = [r.payload for r in browser if isinstance(r.payload, DownloadRefused)]
        assert len(refused) == 1 and refused[0].name == "tool.exe"
        assert "application/x-msdownload is not allowed" in refused[0].reason


async def test_a_task_file_reaches_the_upload_form_byte_for_byte(running: Running) -> None:
    site, app = files_site()
    data = b"\x00\x01binary\xffreport\n" * 100
    files = ArtifactStore(running.actuator.nc)
    stored = await files.put(TENANT, data, content_type="application/pdf")
    with site:
        await running.onboard(["127.0.0.1"])
        brought = TaskFile(
            name="report.pdf", artifact_id=stored.artifact_id, content_type="application/pdf",
            size=len(data),
        )  # fmt: skip
        submitted = TaskSubmitted(
            task_id="t-upload", goal="upload", start_url=site.url("/upload"), files=[brought]
        )
        await running.store.append(
            [envelope(submitted, tenant=TENANT, aggregate_id="t-upload")], expected_version=None
        )
        _, first = await running.step(
            "t-upload", 1, Intent(action="navigate", url=site.url("/upload"))
        )
        done, _ = await running.step(
            "t-upload", 2,
            Intent(action="upload", element=element(first, "Document"), values=["report.pdf"]),
        )  # fmt: skip
        assert done is not None and done.ok, done
        done, obs = await running.step(
            "t-upload", 3, Intent(action="click", element=element(first, "Send"))
        )
        assert done is not None and done.ok, done
    assert app.received == [("report.pdf", data)]
    assert any("Received report.pdf" in e.text for e in obs.observation.elements)

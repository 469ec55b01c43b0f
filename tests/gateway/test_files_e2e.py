"""Files end to end: gateway, planner, actuator (real Chromium), billing, and a local web app
with a CSV export and an upload form.

A task clicks "Export CSV": the download is kept as an artifact (listed on the task, fetched
with the tenant's key, bytes equal to the page's); a type the plan refuses is not kept and
the task says why. A second task brings an uploaded file and the planner grounds 'Upload
"report.pdf" to Document' onto the form's file input: the page's server receives it byte for
byte. The stored bytes are on the tenant's invoice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from macrohard.eventlog.artifacts import artifact_id_of
from tests.files_site import ORDERS_CSV, files_site
from tests.gateway.conftest import RunningGateway, onboard, running_platform, task_until

REPORT = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture
async def platform(
    nats_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningGateway]:
    monkeypatch.setenv("MH_LOCAL_TEST_MODE", "1")
    monkeypatch.setenv("MH_DATA_DIR", str(tmp_path))
    async with running_platform(nats_url, database_url, billing=True) as gw:
        yield gw


async def test_a_task_downloads_a_csv_and_another_uploads_a_file(
    platform: RunningGateway,
) -> None:
    t = await onboard(platform, domains=("127.0.0.1",))
    site, app = files_site()
    with site:
        async with platform.client(t.api_key) as c:
            r = await c.post("/v1/tasks", json={
                "goal": 'Click the "Export CSV" link, then click the "Download tool" link',
                "start_url": site.url("/orders"),
            })  # fmt: skip
            assert r.status_code == 202, r.text
            exported = await task_until(c, r.json()["task_id"])
            assert exported["status"] == "completed", exported
            csv_id = artifact_id_of(ORDERS_CSV)
            kept = [(a["artifact_id"], a["name"], a["content_type"], a["size"], a["source"])
                    for a in exported["artifacts"]]  # fmt: skip
            assert kept == [(csv_id, "orders.csv", "text/csv", len(ORDERS_CSV), "download")]
            refused = exported["refused_files"]
            assert [f["name"] for f in refused] == ["tool.exe"]
            assert (
                "application/x-msdownload is not allowed on the team plan" in refused[0]["reason"]
            )
            listed = (await c.get(f"/v1/tasks/{exported['task_id']}/artifacts")).json()["data"]
            assert [a["artifact_id"] for a in listed] == [csv_id]
            fetched = await c.get(f"/v1/artifacts/{csv_id}")
            assert fetched.status_code == 200 and fetched.content == ORDERS_CSV
            assert fetched.headers["content-type"].startswith("text/csv")

            r = await c.post("/v1/artifacts", params={"name": "report.pdf"}, content=REPORT,
                             headers={"Content-Type": "application/pdf"})  # fmt: skip
            assert r.status_code == 201, r.text
            r = await c.post("/v1/tasks", json={
                "goal": 'Upload "report.pdf" to Document and click "Send"',
                "start_url": site.url("/upload"),
                "files": [r.json()["artifact_id"]],
            })  # fmt: skip
            assert r.status_code == 202, r.text
            uploaded = await task_until(c, r.json()["task_id"])
            assert uploaded["status"] == "completed", uploaded
            assert app.received == [("report.pdf", REPORT)]

            storage: list[dict[str, Any]] = []
            for _ in range(100):  # billing rates the stored bytes as its projection catches up
                invoices = (await c.get("/v1/invoices")).json()["data"]
                storage = [x for i in invoices for x in i["lines"] if x["meter"] == "storage"]
                if storage and storage[0]["quantity"] == len(ORDERS_CSV) + len(REPORT):
                    break
                await asyncio.sleep(0.1)
            assert [(x["quantity"], x["unit"]) for x in storage] == [
                (len(ORDERS_CSV) + len(REPORT), "byte")
            ]

"""Files in and out of a task's browser: downloads kept as artifacts, uploads from artifacts.

A download the page starts (a link with `download`, an "Export CSV" answered with an
attachment) is collected after the action that caused it: checked against the tenant's plan
(content type, size, files per task, total storage), stored content-addressed in the
tenant's bucket and announced with `ArtifactStored` (aggregate `artifact`, id = SHA-256; the
event's id is derived from the intent and the hash, so a redelivered intent stores it once).
A refused one leaves a `DownloadRefused` on the task's browser aggregate, with the reason.

The files a task brings (`TaskSubmitted.files`) are read from the same bucket when an
`upload` intent names them, and set on the file input as in-memory payloads: nothing of a
tenant's is written to the actuator's disk.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Sequence
from pathlib import Path

from playwright.async_api import Download, FilePayload
from playwright.async_api import Error as PlaywrightError

from macrohard.actuator.actions import ActionFailed
from macrohard.actuator.browser import TaskBrowser
from macrohard.actuator.tenants import AllowedDomains
from macrohard.contracts.agent import IntentEmitted
from macrohard.contracts.artifacts import (
    ArtifactStored,
    DownloadRefused,
    TaskFile,
    bare_content_type,
    file_limits,
    file_refusal,
    safe_file_name,
    stored_total,
)
from macrohard.contracts.envelope import Envelope, caused_by
from macrohard.eventlog.artifacts import ArtifactStore, artifact_id_of
from macrohard.eventlog.store import EventStore

log = logging.getLogger("macrohard.actuator.files")

# A download still running after the action settled gets this long to finish (inside the
# step's own deadline).
DOWNLOAD_WAIT_S = 10.0


class TaskFiles:
    """The actuator's side of artifacts: keep downloads, hand files to uploads."""

    def __init__(self, files: ArtifactStore, store: EventStore, tenants: AllowedDomains) -> None:
        self.files = files
        self.store = store
        self.tenants = tenants

    async def keep_downloads(
        self, tb: TaskBrowser, env: Envelope, ie: IntentEmitted
    ) -> list[DownloadRefused]:
        """Store what the page downloaded during this intent; the refusals, for the step."""
        started, tb.downloads[:] = list(tb.downloads), []
        refused: list[DownloadRefused] = []
        for download in started:
            reason = await self._keep(tb, env, ie, download)
            if reason is not None:
                refused.append(reason)
        return refused

    async def _keep(
        self, tb: TaskBrowser, env: Envelope, ie: IntentEmitted, download: Download
    ) -> DownloadRefused | None:
        name = safe_file_name(download.suggested_filename)
        kind = bare_content_type(
            tb.content_types.get(download.url)
            or mimetypes.guess_type(name)[0]
            or "application/octet-stream"
        )

        def refusal(reason: str, size: int = 0) -> DownloadRefused:
            log.info("download refused", extra={"task": ie.task_id, "reason": reason,
                                                 "correlation_id": env.correlation_id})  # fmt: skip
            return DownloadRefused(
                task_id=ie.task_id, name=name, content_type=kind, size=size, reason=reason
            )

        try:
            async with asyncio.timeout(DOWNLOAD_WAIT_S):
                failure = await download.failure()
                path = None if failure else await download.path()
        except (PlaywrightError, TimeoutError) as exc:
            return refusal(f"the download did not finish: {type(exc).__name__}")
        if failure or path is None:
            return refusal(f"the download failed: {failure}")
        try:
            plan = await self.tenants.plan_of(env.tenant)
            limits = file_limits(plan)
            size = Path(path).stat().st_size
            # The size and type are known before the bytes are read: a file past the plan's
            # size is never loaded into memory.
            early = file_refusal(
                limits, plan, size=size, content_type=kind, task_files=tb.files_kept
            )
            if early:
                return refusal(early, size)
            data = await asyncio.to_thread(Path(path).read_bytes)
            artifact_id = artifact_id_of(data)
            reason = file_refusal(
                limits, plan, size=size, content_type=kind, task_files=tb.files_kept,
                used_bytes=await self._stored_bytes(env.tenant),
                already_stored=await self.files.exists(env.tenant, artifact_id),
            )  # fmt: skip
            if reason:
                return refusal(reason, size)
            stored = await self.files.put(env.tenant, data, content_type=kind)
        finally:
            await download.delete()
        tb.files_kept += 1
        event = ArtifactStored(
            artifact_id=stored.artifact_id, name=name, content_type=kind, size=stored.size,
            source="download", task_id=ie.task_id, url=download.url[:2048],
            stored_bytes=stored.size if stored.new else 0,
        )  # fmt: skip
        await self.store.append(
            [caused_by(event, env, aggregate_id=stored.artifact_id,
                       purpose=f"artifact:{stored.artifact_id}")],
            expected_version=None,
        )  # fmt: skip
        log.info("download kept", extra={"task": ie.task_id, "artifact": stored.artifact_id,
                                         "bytes": stored.size})  # fmt: skip
        return None

    async def _stored_bytes(self, tenant: str) -> int:
        # The actuator has no read model: the tenant's file events, folded (a download is
        # rare next to the steps around it, and a tenant's file events are few).
        events = await self.store.read_aggregates_of_type(tenant, "artifact")
        return stored_total(r.payload for r in events)

    async def payloads(
        self, tenant: str, brought: Sequence[TaskFile], wanted: Sequence[str]
    ) -> list[FilePayload]:
        """The task's files an upload names (by name or artifact id), as in-memory payloads.

        [] when none of the names is one of the task's files (the actuator's upload folder
        may still have them); a mix of known and unknown names is an error.
        """
        by_key = {f.name: f for f in brought} | {f.artifact_id: f for f in brought}
        found = [by_key[w] for w in wanted if w in by_key]
        if not found:
            return []
        missing = [w for w in wanted if w not in by_key]
        if missing:
            raise ActionFailed(f"the task brings no file named {', '.join(missing)}")
        out: list[FilePayload] = []
        for f in found:
            data = await self.files.get(tenant, f.artifact_id)
            if data is None:
                raise ActionFailed(f"file {f.name} ({f.artifact_id[:12]}) was deleted")
            out.append(FilePayload(name=f.name, mimeType=f.content_type, buffer=data))
        return out

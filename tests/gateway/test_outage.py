"""NATS goes down under a running gateway process and comes back.

While it is down `/readyz` answers 503 at once (never hangs) and a submission answers 503
with Retry-After, never a 500; nothing refused then is stored later, and a retry with the
same Idempotency-Key after NATS is back stores the task exactly once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import nats

from macrohard.contracts.tasks import TaskSubmitted
from macrohard.devkit.embedded import EmbeddedNats, free_port
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams
from tests.gateway.process import ADMIN, start_gateway, wait_ready


async def test_nats_outage_answers_503_and_stores_nothing_it_refused(
    nats_server: EmbeddedNats, database_url: str, tmp_path: Path
) -> None:
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream())
    await nc.close()
    port = free_port()
    proc = await start_gateway(nats_server.url, database_url, tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=20) as c:
            await wait_ready(c)
            onboarded = await c.post(
                "/v1/tenants",
                headers={"Authorization": f"Bearer {ADMIN}"},
                json={"name": "Acme", "allowed_domains": ["example.com"]},
            )
            key = {"Authorization": f"Bearer {onboarded.json()['api_key']}"}
            task = {"goal": "Click the link", "start_url": "https://example.com/"}

            nats_server.stop()
            started = time.monotonic()
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and time.monotonic() - started < 4.5
            assert ready.json()["checks"]["nats"].startswith("unreachable")
            refused = []
            for headers in ({**key, "Idempotency-Key": "order-1"}, key):
                r = await c.post("/v1/tasks", headers=headers, json=task)
                assert r.status_code == 503, r.text
                assert r.headers["Retry-After"] == "2"
                assert r.headers["content-type"].startswith("application/problem+json")
                refused.append(r)

            back = EmbeddedNats(nats_server.data_dir, port=nats_server.port).start()
            await wait_ready(c)
            retried = await c.post(
                "/v1/tasks", headers={**key, "Idempotency-Key": "order-1"}, json=task
            )
            assert retried.status_code == 202, retried.text
            again = await c.post(
                "/v1/tasks", headers={**key, "Idempotency-Key": "order-1"}, json=task
            )
            assert again.json()["task_id"] == retried.json()["task_id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
    nc = await nats.connect(nats_server.url)
    try:
        store = EventStore(nc)
        everything = [await store.read_sequence(s) for s in range(1, await store.stream_head() + 1)]
        stored = [r for r in everything if isinstance(r.payload, TaskSubmitted)]
        await store.close()
    finally:
        await nc.close()
        back.stop()
    # Only the retried submission: neither refused request landed once NATS came back.
    assert [r.payload.task_id for r in stored] == [retried.json()["task_id"]]

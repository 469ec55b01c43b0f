"""Two gateway processes on one NATS and PostgreSQL: any replica serves any request.

Only one replica applies the read model (an advisory lock); onboarding and key issuing on
the other one must still answer with a key that works at once, everywhere.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import nats

from macrohard.contracts.tenancy import ApiKeyIssued, TenantOnboarded
from macrohard.devkit.embedded import free_port
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams
from tests.gateway.process import ADMIN, start_gateway, wait_ready


async def test_onboarding_answers_on_every_replica_in_one_append(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream())
    procs, clients = [], []
    try:
        for _ in range(2):
            port = free_port()
            procs.append(await start_gateway(nats_url, database_url, tmp_path, port))
            client = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=20
            )
            clients.append(client)
            await wait_ready(client)  # the first one up holds the projection
        admin = {"Authorization": f"Bearer {ADMIN}"}
        for onboarding, other in ((clients[1], clients[0]), (clients[0], clients[1])):
            r = await onboarding.post(
                "/v1/tenants", headers=admin, json={"name": "Acme", "allowed_domains": ["a.test"]}
            )
            assert r.status_code == 201, r.text
            key = {"Authorization": f"Bearer {r.json()['api_key']}"}
            for client in (onboarding, other):
                assert (await client.get("/v1/api-keys", headers=key)).status_code == 200
            issued = await onboarding.post("/v1/api-keys", headers=key, json={"label": "ci"})
            assert issued.status_code == 201, issued.text
        store = EventStore(nc)
        events = [await store.read_sequence(s) for s in range(1, await store.stream_head() + 1)]
        await store.close()
        kinds = [type(r.payload) for r in events]
        # Two onboardings, each one event carrying its first key; the extra keys on their own.
        assert kinds.count(TenantOnboarded) == 2 and kinds.count(ApiKeyIssued) == 2
        assert all(
            r.payload.first_key is not None
            for r in events
            if isinstance(r.payload, TenantOnboarded)
        )
    finally:
        for client in clients:
            await client.aclose()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 15)
        await nc.close()

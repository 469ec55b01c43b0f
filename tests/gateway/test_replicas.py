"""Two gateway processes on one NATS and PostgreSQL: any replica serves any request.

Only one replica applies the read model (an advisory lock); onboarding and key issuing on
the other one must still answer with a key that works at once, everywhere. A retry with the
same Idempotency-Key that reaches the other replica while the first request is in flight is
told 409 there too, and no key ever makes two tasks.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import KeyNotFoundError

from macrohard.contracts.subjects import SUBMISSION_CLAIMS_BUCKET
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.contracts.tenancy import ApiKeyIssued, TenantOnboarded
from macrohard.devkit.embedded import free_port
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams
from macrohard.gateway.claims import claim_key
from tests.gateway.process import ADMIN, start_gateway, wait_ready

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
TASK = {"goal": "Click the More information link", "start_url": "https://a.test/", "max_steps": 3}


@asynccontextmanager
async def two_gateways(
    nats_url: str, database_url: str, data_dir: Path
) -> AsyncIterator[tuple[NATS, list[httpx.AsyncClient]]]:
    """Two `mh run gateway` processes; the first one up holds the projection."""
    nc = await nats.connect(nats_url)
    await ensure_streams(nc.jetstream())
    procs, clients = [], []
    try:
        for _ in range(2):
            port = free_port()
            procs.append(await start_gateway(nats_url, database_url, data_dir, port))
            client = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=20
            )
            clients.append(client)
            await wait_ready(client)
        yield nc, clients
    finally:
        for client in clients:
            await client.aclose()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 15)
        await nc.close()


async def all_events(nc: NATS) -> list[object]:
    store = EventStore(nc)
    events = [await store.read_sequence(s) for s in range(1, await store.stream_head() + 1)]
    await store.close()
    return [r.payload for r in events]


async def test_onboarding_answers_on_every_replica_in_one_append(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with two_gateways(nats_url, database_url, tmp_path) as (nc, clients):
        for onboarding, other in ((clients[1], clients[0]), (clients[0], clients[1])):
            r = await onboarding.post(
                "/v1/tenants",
                headers=ADMIN_HEADERS,
                json={"name": "Acme", "allowed_domains": ["a.test"]},
            )
            assert r.status_code == 201, r.text
            key = {"Authorization": f"Bearer {r.json()['api_key']}"}
            for client in (onboarding, other):
                assert (await client.get("/v1/api-keys", headers=key)).status_code == 200
            issued = await onboarding.post("/v1/api-keys", headers=key, json={"label": "ci"})
            assert issued.status_code == 201, issued.text
        payloads = await all_events(nc)
    kinds = [type(p) for p in payloads]
    # Two onboardings, each one event carrying its first key; the extra keys on their own.
    assert kinds.count(TenantOnboarded) == 2 and kinds.count(ApiKeyIssued) == 2
    assert all(p.first_key is not None for p in payloads if isinstance(p, TenantOnboarded))


async def test_an_idempotent_retry_on_the_other_replica_never_makes_a_second_task(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    async with two_gateways(nats_url, database_url, tmp_path) as (nc, clients):
        r = await clients[0].post(
            "/v1/tenants",
            headers=ADMIN_HEADERS,
            json={"name": "Acme", "allowed_domains": ["a.test"]},
        )
        assert r.status_code == 201, r.text
        tenant = r.json()["tenant_id"]
        key = {"Authorization": f"Bearer {r.json()['api_key']}"}

        # A request in flight on one replica holds the key's claim in the shared bucket:
        # the other replica answers its retry 409 instead of racing it.
        kv = await nc.jetstream().key_value(SUBMISSION_CLAIMS_BUCKET)
        await kv.create(claim_key(tenant, "held"), b"")
        for client in clients:
            held = await client.post(
                "/v1/tasks", json=TASK, headers={**key, "Idempotency-Key": "held"}
            )
            assert held.status_code == 409, held.text
        await kv.purge(claim_key(tenant, "held"))
        first = await clients[1].post(
            "/v1/tasks", json=TASK, headers={**key, "Idempotency-Key": "held"}
        )
        assert first.status_code == 202, first.text

        # Retries of one key fired at both replicas at once: one task per key, every answer
        # either that task or 409, and every claim released afterwards.
        for n in range(5):
            rs = await asyncio.gather(
                *(
                    clients[i % 2].post(
                        "/v1/tasks", json=TASK, headers={**key, "Idempotency-Key": f"burst-{n}"}
                    )
                    for i in range(6)
                )
            )
            assert all(r.status_code in (202, 409) for r in rs), [r.text for r in rs]
            accepted = {r.json()["task_id"] for r in rs if r.status_code == 202}
            assert len(accepted) == 1, accepted
        for n in range(5):
            with pytest.raises(KeyNotFoundError):  # purged: a later retry is not refused
                await kv.get(claim_key(tenant, f"burst-{n}"))
        submitted = [p for p in await all_events(nc) if isinstance(p, TaskSubmitted)]
    keys = [p.idempotency_key for p in submitted]
    assert sorted(keys) == sorted(["held", *(f"burst-{n}" for n in range(5))])

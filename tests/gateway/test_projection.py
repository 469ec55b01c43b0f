"""The gateway's read model rebuilt from the log reaches the same state, whatever the batching."""

from __future__ import annotations

import asyncpg
from nats.aio.client import Client as NATS

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.browser import ActionExecuted
from macrohard.contracts.tasks import TaskCompleted, TaskStarted
from macrohard.eventlog import EventStore, ProjectionRunner
from macrohard.gateway.projection import GatewayProjection
from tests.gateway.conftest import TASK, onboard, running_gateway

DUMP = """
SELECT (SELECT json_agg(t ORDER BY tenant_id) FROM gateway.tenants t)::text,
       (SELECT json_agg(k ORDER BY key_id) FROM gateway.api_keys k)::text,
       (SELECT json_agg(x ORDER BY task_id) FROM gateway.tasks x)::text
"""


async def test_rebuild_is_identical(
    nats_url: str, database_url: str, nc: NATS, store: EventStore, pool: asyncpg.Pool
) -> None:
    async with running_gateway(nats_url, database_url) as g:
        a, b = await onboard(g, "A"), await onboard(g, "B")
        ids = []
        for t in (a, b):
            async with g.client(t.api_key) as c:
                await c.post("/v1/api-keys", json={"label": "second"})
                for _ in range(3):
                    ids.append(
                        (t.tenant_id, (await c.post("/v1/tasks", json=TASK)).json()["task_id"])
                    )
        for n, (tenant, task_id) in enumerate(ids):
            events = [
                TaskStarted(task_id=task_id, backend="offline"),
                IntentEmitted(task_id=task_id, step=1, intent=Intent(action="click", element=n)),
                ActionExecuted(
                    task_id=task_id, step=1, intent_event_id="i", action="click", ok=True
                ),
            ]
            if n % 2:
                events.append(TaskCompleted(task_id=task_id, steps=1, result=f"r{n}"))
            for e in events:
                await store.append(
                    [envelope(e, tenant=tenant, aggregate_id=task_id)], expected_version=None
                )
        assert g.gateway.context is not None
        await g.gateway.context.wait_seen(await store.stream_head())
    live = await pool.fetchrow(DUMP)
    assert all(live[i] for i in range(3))
    for batch_size in (1, 7, 5000):
        runner = ProjectionRunner(nc, pool, GatewayProjection(), batch_size=batch_size)
        await runner.setup()
        await runner.rebuild()
        await runner.catch_up()
        assert await pool.fetchrow(DUMP) == live, batch_size

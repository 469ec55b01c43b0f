"""output_schema at the API: a schema that is not one is refused; the result is shown."""

from __future__ import annotations

import asyncio

from macrohard.contracts.envelope import envelope
from macrohard.contracts.tasks import TaskCompleted
from macrohard.eventlog import EventStore
from tests.gateway.conftest import TASK, RunningGateway, onboard

SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}


async def test_output_schema_is_checked_and_the_output_shown(
    gw: RunningGateway, store: EventStore
) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        bad = await c.post("/v1/tasks", json={**TASK, "output_schema": {"type": "nonsense"}})
        assert bad.status_code == 422 and "output_schema" in bad.text
        r = await c.post("/v1/tasks", json={**TASK, "output_schema": SCHEMA})
        assert r.status_code == 202, r.text
        task_id = r.json()["task_id"]
        # The planner's end of the run, as it appends it.
        done = TaskCompleted(task_id=task_id, steps=3, result="done", output={"total": 12.5})
        await store.append(
            [envelope(done, tenant=t.tenant_id, aggregate_id=task_id)], expected_version=None
        )
        for _ in range(100):
            view = (await c.get(f"/v1/tasks/{task_id}")).json()
            if view["status"] == "completed":
                break
            await asyncio.sleep(0.05)
    assert view["output_schema"] == SCHEMA and view["output"] == {"total": 12.5}

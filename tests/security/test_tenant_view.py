"""Point 9: what a tenant sees of its task (SSE, the task view, failure reasons) is its own
business only: not which car served it, who owns that car, its lease, the sealed secrets,
or the internal addresses an error may quote."""

from __future__ import annotations

import json

from macrohard.contracts import envelope
from macrohard.contracts.agent import InferenceCompleted
from macrohard.contracts.browser import ActionExecuted
from macrohard.contracts.tasks import TaskFailed
from macrohard.eventlog import EventStore
from tests.gateway.conftest import TASK, RunningGateway, onboard
from tests.gateway.test_events_webhooks import read_sse
from tests.security.conftest import Participants

PLATFORM_BUSINESS = (
    "owner_account", "owner-7", "node_id", "car-9", "lease_id", "lease-42", "ciphertext",
    "request_hash", "10.0.0.7", "10.1.2.3", "169.254.169.254",
)  # fmt: skip


async def test_sse_and_the_task_view_show_a_tenant_only_its_own_business(
    production_gateway: RunningGateway, participants: Participants
) -> None:
    tenant = await onboard(production_gateway)
    async with production_gateway.client(tenant.api_key) as client:
        r = await client.post("/v1/tasks", json=TASK, headers={"Idempotency-Key": "v1"})
        task_id = r.json()["task_id"]
        planner = EventStore(await participants.connect("planner"))
        actuator = EventStore(await participants.connect("actuator"))
        used = InferenceCompleted(
            task_id=task_id, step=1, model="planner", node_id="car-9", owner_account="owner-7",
            lease_id="lease-42", compute_ms=12.0, input_bytes=10, output_bytes=5,
        )  # fmt: skip
        await planner.append(
            [envelope(used, tenant=tenant.tenant_id, aggregate_id=task_id)], expected_version=None
        )
        refused = ActionExecuted(
            task_id=task_id, step=1, intent_event_id="i", action="navigate", ok=False,
            error="net::ERR_CONNECTION_REFUSED at http://10.1.2.3:8000/ via 169.254.169.254",
        )  # fmt: skip
        await actuator.append(
            [envelope(refused, tenant=tenant.tenant_id, aggregate_id=task_id)],
            expected_version=None,
        )
        failed = TaskFailed(task_id=task_id, steps=1, reason="ConnectError: 10.0.0.7:8001 (car)")
        await planner.append(
            [envelope(failed, tenant=tenant.tenant_id, aggregate_id=task_id)],
            expected_version=None,
        )
        events = await read_sse(client, f"/v1/tasks/{task_id}/events", count=None)
        view = (await client.get(f"/v1/tasks/{task_id}")).json()
    assert [e[1] for e in events] == [
        "TaskSubmitted", "InferenceCompleted", "ActionExecuted", "TaskFailed",
    ]  # fmt: skip
    shown = json.dumps([e[2] for e in events]) + json.dumps(view)
    for leak in PLATFORM_BUSINESS:
        assert leak not in shown, leak
    # What is the tenant's own stays: its usage, its goal, why its task failed.
    assert events[1][2]["payload"]["compute_ms"] == 12.0
    assert events[0][2]["payload"]["goal"] == TASK["goal"]
    assert events[3][2]["payload"]["reason"] == "ConnectError: [internal] (car)"

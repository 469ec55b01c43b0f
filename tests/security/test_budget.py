"""Point 7: a tenant over budget stays refused by every planner replica, restarts included.

The budget stop is state every replica decides with; a tenant who could get work done by
waiting for a planner restart (or by landing on a replica that missed the signal) would
spend money it does not have."""

from __future__ import annotations

import asyncio

from macrohard.contracts import envelope
from macrohard.contracts.billing import BudgetExhausted
from macrohard.contracts.browser import PageElement, PageObservation, PageObserved
from macrohard.contracts.envelope import Event
from macrohard.contracts.tasks import TaskFailed, TaskSubmitted
from macrohard.eventlog import EventStore, Service, ServiceConfig
from macrohard.planner.main import build
from tests.security.conftest import Participants

PAGE = PageObservation(
    url="https://example.com/",
    title="Example",
    elements=[PageElement(id=1, role="button", name="Save")],
)


async def planner_replica(participants: Participants) -> Service:
    service = Service(
        ServiceConfig(
            name="planner", nats_url=participants.url("planner"), extra={"backend": "in-process"}
        )
    )
    build(service)
    await service.start()
    return service


async def run_until_observed(
    participants: Participants, task_id: str, tenant: str = "acme"
) -> list[Event]:
    """Submit a task and show the planner its first page; return the task's events."""
    gateway = EventStore(await participants.connect("gateway"))
    actuator = EventStore(await participants.connect("actuator"))
    submitted = TaskSubmitted(task_id=task_id, goal="Click Save", start_url="https://example.com/")
    await gateway.append(
        [envelope(submitted, tenant=tenant, aggregate_id=task_id)], expected_version=0
    )
    admin = EventStore(await participants.connect("admin"))
    for _ in range(250):  # the planner started the run (TaskStarted, navigate)
        if len(await admin.read_aggregate(tenant, "task", task_id)) >= 3:
            break
        await asyncio.sleep(0.02)
    page = PageObserved(task_id=task_id, step=0, observation=PAGE)
    await actuator.append(
        [envelope(page, tenant=tenant, aggregate_id=task_id)], expected_version=None
    )
    events: list[Event] = []
    for _ in range(250):
        events = [r.payload for r in await admin.read_aggregate(tenant, "task", task_id)]
        if len(events) >= 4:
            break
        await asyncio.sleep(0.02)
    return events


async def test_a_restarted_planner_still_refuses_a_tenant_over_budget(
    participants: Participants,
) -> None:
    first = await planner_replica(participants)
    try:
        billing = EventStore(await participants.connect("billing"))
        over = BudgetExhausted(tenant_id="acme", period="2026-11", spent="10.00", cap="10.00")
        await billing.append(
            [envelope(over, tenant="acme", aggregate_id="acme")], expected_version=0
        )
        events = await run_until_observed(participants, "t1")
        assert isinstance(events[-1], TaskFailed) and events[-1].reason == "budget exhausted"
    finally:
        await first.stop()
    # The signal was handled and acknowledged before this replica existed.
    second = await planner_replica(participants)
    try:
        events = await run_until_observed(participants, "t2")
        assert isinstance(events[-1], TaskFailed), events[-1]
        assert events[-1].reason == "budget exhausted"
        # Another tenant is not affected: its run goes on to its first step.
        other = await run_until_observed(participants, "t3", tenant="beta")
        assert not any(isinstance(e, TaskFailed) for e in other), other
    finally:
        await second.stop()

"""Approvals in the planner: which steps a policy holds, the pause, and the tenant's answer.

The decision comes from the real offline model in process; the log is a real NATS.
"""

from __future__ import annotations

import pytest

from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.approvals import (
    ApprovalPolicy,
    ApprovalPolicySet,
    TaskApprovalDenied,
    TaskApproved,
    TaskNeedsApproval,
)
from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.contracts.tasks import TaskCancelled, TaskStarted, TaskSubmitted
from macrohard.eventlog import EventStore
from macrohard.planner.approvals import needs_approval
from macrohard.planner.backends import DecisionRequest, InProcessBackend
from macrohard.planner.handlers import Planner
from tests.planner.test_service import append, observe, task_events

POLICY = ApprovalPolicy(labels=["delete", "pay"], domains=["shop.test"])
ORDERS = PageObservation(
    url="http://shop.test/orders",
    title="Orders",
    elements=[
        PageElement(id=0, role="button", name="Export CSV"),
        PageElement(id=1, role="button", name="Delete order 1042"),
    ],
)


@pytest.mark.parametrize(
    ("intent", "element", "asked"),
    [
        (Intent(action="click", element=1), ORDERS.elements[1], True),
        (Intent(action="press", element=1, keys="Enter"), ORDERS.elements[1], True),
        (Intent(action="click", element=0), ORDERS.elements[0], False),
        (Intent(action="type", element=1, text="x"), ORDERS.elements[1], False),
        (Intent(action="click", element=2), PageElement(id=2, role="button", name="Pay now"), True),
        # Whole words only: "Payment history" is not "pay".
        (Intent(action="click", element=3), PageElement(id=3, role="link", name="Pay slips"), True),
        (Intent(action="click", element=4), PageElement(id=4, role="link", name="Payments"), False),
        (Intent(action="navigate", url="https://www.shop.test/a"), None, False),
        (Intent(action="navigate", url="https://elsewhere.test/"), None, True),
    ],
)
def test_what_the_policy_holds(intent: Intent, element: PageElement | None, asked: bool) -> None:
    assert bool(needs_approval(POLICY, intent, element)) is asked
    assert needs_approval(None, intent, element) == ""


class ReleasingBackend(InProcessBackend):
    """The in-process model, recording which runs gave their car back."""

    def __init__(self) -> None:
        super().__init__()
        self.released: list[str] = []

    async def next_intent(self, request: DecisionRequest) -> Intent:
        return await super().next_intent(request)

    async def release(self, task_id: str) -> None:
        self.released.append(task_id)


async def start(store: EventStore, task_id: str) -> tuple[Planner, ReleasingBackend]:
    backend = ReleasingBackend()
    p = Planner(store=lambda: store, backend=lambda: backend)
    await append(store, ApprovalPolicySet(tenant_id="acme", policy=POLICY), "acme")
    goal = 'Click the "Delete order 1042" button'
    sub = await append(
        store, TaskSubmitted(task_id=task_id, goal=goal, start_url=ORDERS.url), task_id
    )
    await p.on_task_event(sub)
    await observe(store, p, 0, ORDERS, task_id=task_id)
    return p, backend


async def test_a_held_step_waits_for_the_tenant_then_runs_as_decided(store: EventStore) -> None:
    p, backend = await start(store, "t-ok")
    events = await task_events(store, "t-ok")
    started = next(e for e in events if isinstance(e, TaskStarted))
    assert started.approval == POLICY  # the run keeps the rules it started under
    held = events[-1]
    assert isinstance(held, TaskNeedsApproval), events
    assert held.step == 1 and held.intent.action == "click" and held.intent.element == 1
    assert "delete" in held.why and held.element_label == "button 'Delete order 1042'"
    assert backend.released == ["t-ok"]  # paused: no car held
    # Pages seen while paused decide nothing.
    await observe(store, p, 0, ORDERS, task_id="t-ok")
    assert not any(isinstance(e, IntentEmitted) and e.step == 1
                   for e in await task_events(store, "t-ok"))  # fmt: skip

    approved = await append(store, TaskApproved(task_id="t-ok", step=1), "t-ok")
    await p.on_task_event(approved)
    await p.on_task_event(approved)  # redelivery emits nothing more
    emitted = [e for e in await task_events(store, "t-ok") if isinstance(e, IntentEmitted)]
    assert [(e.step, e.intent) for e in emitted][-1] == (1, held.intent)
    assert len(emitted) == 2 and emitted[-1].previous_ok is True


async def test_a_denied_step_ends_the_run(store: EventStore) -> None:
    p, _ = await start(store, "t-no")
    denied = await append(store, TaskApprovalDenied(task_id="t-no", step=1, reason="no"), "t-no")
    await p.on_task_event(denied)
    events = await task_events(store, "t-no")
    assert isinstance(events[-1], TaskCancelled) and events[-1].reason == "approval denied: no"
    assert not any(isinstance(e, IntentEmitted) and e.step == 1 for e in events)

"""Usage-bearing events as the other services would append them, at chosen times."""

from __future__ import annotations

from datetime import UTC, datetime

from macrohard.contracts import envelope
from macrohard.contracts.agent import InferenceCompleted, Intent, IntentEmitted
from macrohard.contracts.billing import UsageRecorded
from macrohard.contracts.browser import ActionExecuted, PageObservation, PageObserved
from macrohard.contracts.envelope import Envelope
from macrohard.contracts.tasks import TaskCompleted, TaskStarted
from macrohard.contracts.tenancy import TenantBudgetChanged, TenantOnboarded
from macrohard.eventlog.store import EventStore


def at(day: int, month: int = 10, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def onboarded(tenant: str, plan: str = "payg", budget: str = "0") -> Envelope:
    return envelope(
        TenantOnboarded(
            tenant_id=tenant, name=tenant, plan=plan, allowed_domains=[], monthly_budget=budget
        ),
        tenant=tenant,
        aggregate_id=tenant,
        occurred_at=at(1),
    )


def budget_changed(tenant: str, budget: str, when: datetime) -> Envelope:
    return envelope(
        TenantBudgetChanged(tenant_id=tenant, monthly_budget=budget),
        tenant=tenant,
        aggregate_id=tenant,
        occurred_at=when,
    )


def started(tenant: str, task: str, when: datetime) -> Envelope:
    return envelope(
        TaskStarted(task_id=task, backend="local"), tenant=tenant, aggregate_id=task,
        occurred_at=when,
    )  # fmt: skip


def completed(tenant: str, task: str, when: datetime, steps: int = 1) -> Envelope:
    return envelope(
        TaskCompleted(task_id=task, steps=steps), tenant=tenant, aggregate_id=task,
        occurred_at=when,
    )  # fmt: skip


def step(tenant: str, task: str, n: int, when: datetime) -> Envelope:
    return envelope(
        IntentEmitted(task_id=task, step=n, intent=Intent(action="click", element=1)),
        tenant=tenant, aggregate_id=task, occurred_at=when,
    )  # fmt: skip


def action(tenant: str, task: str, n: int, when: datetime) -> Envelope:
    return envelope(
        ActionExecuted(task_id=task, step=n, intent_event_id="x", action="click", ok=True),
        tenant=tenant, aggregate_id=f"s-{task}", occurred_at=when,
    )  # fmt: skip


def observed(tenant: str, task: str, n: int, when: datetime, screenshot: bool = True) -> Envelope:
    obs = PageObservation(
        url="https://e.com", title="t", elements=[],
        screenshot_sha256="ab" * 32 if screenshot else None,
    )  # fmt: skip
    return envelope(
        PageObserved(task_id=task, step=n, observation=obs),
        tenant=tenant, aggregate_id=f"s-{task}", occurred_at=when,
    )  # fmt: skip


def inference(
    tenant: str,
    task: str,
    when: datetime,
    *,
    compute_ms: float,
    energy_wh: float = 0.0,
    node: str = "car-1",
    owner: str = "owner-1",
    model: str = "planner-small",
    checks: str = "",
) -> Envelope:
    """An answer used; with `checks`, a verification call re-executing that car's answer."""
    return envelope(
        InferenceCompleted(
            task_id=task, step=1, model=model, node_id=node, owner_account=owner,
            lease_id="l1", compute_ms=compute_ms, input_bytes=1, output_bytes=1,
            energy_wh=energy_wh, verification=bool(checks), checks=checks,
        ),
        tenant=tenant, aggregate_id=task, occurred_at=when,
    )  # fmt: skip


def recorded(tenant: str, meter: str, quantity: int, when: datetime) -> Envelope:
    return envelope(
        UsageRecorded(tenant_id=tenant, meter=meter, quantity=quantity, reason="test"),
        tenant=tenant, aggregate_id=tenant, occurred_at=when,
    )  # fmt: skip


async def append_all(store: EventStore, events: list[Envelope]) -> None:
    for env in events:
        await store.append([env], expected_version=None)

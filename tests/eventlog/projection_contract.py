"""The projection contract: what every read model must do, written once.

`tests/eventlog/test_projection_contract.py` runs it over every projection the platform
registers (`macrohard.devkit.projections.catalogue()`: each service's own `build()`, so a new
projection is under contract the day it is registered). All of them read the same log: one
day of work of two tenants (onboarding, keys, tasks stepped through the browser and the
model, completions, a failure, usage, a budget change) and of two cars (registered, parked,
leased, lost).

The contract:
1. rebuilt from the log equals live (whatever the batch sizes);
2. a redelivered batch changes nothing (a runner with a stale position resumes from the
   committed checkpoint: what it was about to apply again is not applied);
3. events outside its subjects change nothing;
4. an event it cannot apply is dead-lettered and the rest applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from macrohard.contracts import PLATFORM_TENANT, envelope
from macrohard.contracts.agent import InferenceCompleted, Intent, IntentEmitted
from macrohard.contracts.browser import (
    ActionExecuted,
    PageElement,
    PageObservation,
    PageObserved,
    SessionClosed,
    SessionOpened,
)
from macrohard.contracts.envelope import Envelope, Event, RecordedEvent
from macrohard.contracts.fleet import (
    LeaseGranted,
    LeaseReleased,
    NodeLost,
    NodeParked,
    NodeRegistered,
    NodeUnparked,
)
from macrohard.contracts.schedules import (
    ScheduleCreated,
    SchedulePaused,
    ScheduleResumed,
    TaskTemplate,
)
from macrohard.contracts.sessions import (
    SessionClaimed,
    SessionDeleted,
    SessionReleased,
    SessionSaved,
)
from macrohard.contracts.subjects import subject_matches
from macrohard.contracts.tasks import (
    SealedSecret,
    TaskCompleted,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
)
from macrohard.contracts.tenancy import ApiKeyIssued, TenantBudgetChanged, TenantOnboarded
from macrohard.eventlog.db import Conn
from macrohard.eventlog.projection import Projection
from macrohard.scheduler.public import tick_task_id

DAY = datetime(2026, 10, 7, 9, 0, tzinfo=UTC)

TABLES_SQL = """
SELECT table_schema || '.' || table_name FROM information_schema.tables
WHERE table_type = 'BASE TABLE'
  AND table_schema NOT IN ('pg_catalog', 'information_schema')
  AND (table_schema, table_name) <> ('eventlog', 'checkpoints')
ORDER BY 1
"""


def _at(minutes: float) -> datetime:
    return DAY + timedelta(minutes=minutes)


class _Clock:
    """Event times a minute apart: the log is the same on every run of the suite."""

    def __init__(self) -> None:
        self.minutes = 0

    def ev(self, event: Event, tenant: str, aggregate_id: str) -> Envelope:
        self.minutes += 1
        return envelope(
            event, tenant=tenant, aggregate_id=aggregate_id, occurred_at=_at(self.minutes)
        )


def _task(clock: _Clock, tenant: str, task: str, n: int, *, ok: bool) -> list[Envelope]:
    """One task: submitted, two steps through model and browser, then done or failed."""
    page = PageObservation(
        url="https://app.example/form",
        title="Form",
        elements=[PageElement(id=1, role="button", name="Send")],
    )
    submitted = TaskSubmitted(
        task_id=task, goal=f"send form {n}", start_url="https://app.example/form"
    )
    out = [
        clock.ev(submitted, tenant, task),
        clock.ev(TaskStarted(task_id=task, backend="offline"), tenant, task),
        clock.ev(SessionOpened(task_id=task, worker="w1"), tenant, task),
    ]
    for step in (1, 2):
        inferred = InferenceCompleted(
            task_id=task, step=step, model="planner", node_id="car-1",
            owner_account="owner-car-1", lease_id="l1", compute_ms=40.0,
            input_bytes=900, output_bytes=60, energy_wh=0.01,
        )  # fmt: skip
        intent = IntentEmitted(task_id=task, step=step, intent=Intent(action="click", element=1))
        action = ActionExecuted(
            task_id=task, step=step, intent_event_id=f"i{step}", action="click", ok=True
        )
        out += [
            clock.ev(inferred, tenant, task),
            clock.ev(intent, tenant, task),
            clock.ev(action, tenant, task),
            clock.ev(PageObserved(task_id=task, step=step, observation=page), tenant, task),
        ]
    end: Event = (
        TaskCompleted(task_id=task, steps=2, result=f"sent {n}")
        if ok
        else TaskFailed(task_id=task, steps=2, reason="the form vanished")
    )
    out += [clock.ev(end, tenant, task), clock.ev(SessionClosed(task_id=task), tenant, task)]
    return out


def _node(clock: _Clock, node: str) -> Envelope:
    registered = NodeRegistered(
        node_id=node,
        owner_account=f"owner-{node}",
        chip="nvidia-drive-orin",
        tops=254.0,
        memory_gb=32.0,
        power_w=60.0,
        models=["planner", "minilm"],
        triton_http_url="",
    )
    return clock.ev(registered, PLATFORM_TENANT, node)


def scenario() -> list[list[Envelope]]:
    """The log every projection is run over, as the appends that wrote it."""
    clock = _Clock()
    appends: list[list[Envelope]] = []
    for t in ("acme", "globex"):
        onboarded = TenantOnboarded(
            tenant_id=t, name=t, plan="payg", allowed_domains=["app.example"], monthly_budget="0"
        )
        appends.append([clock.ev(onboarded, t, t)])
    key = ApiKeyIssued(
        key_id="k2", tenant_id="acme", prefix="mh_k2", preview="mh_k2...", key_hash="h", label="ci"
    )
    appends.append([clock.ev(key, "acme", "k2")])
    appends += [[_node(clock, "car-1")], [_node(clock, "car-2")]]
    appends.append(
        [
            clock.ev(NodeParked(node_id=n, expected_departure=_at(600)), PLATFORM_TENANT, n)
            for n in ("car-1", "car-2")
        ]
    )
    lease = LeaseGranted(
        lease_id="l1", node_id="car-1", tenant_id="acme", task_id="t1", model="planner",
        expires_at=_at(120),
    )  # fmt: skip
    appends.append([clock.ev(lease, PLATFORM_TENANT, "l1")])
    template = TaskTemplate(goal="send the hourly form", start_url="https://app.example/form")
    appends.append(
        [
            clock.ev(
                ScheduleCreated(
                    schedule_id="s1", name="hourly", cron="0 * * * *", template=template
                ),
                "acme",
                "s1",
            ),
            clock.ev(SchedulePaused(schedule_id="s1"), "acme", "s1"),
            clock.ev(ScheduleResumed(schedule_id="s1"), "acme", "s1"),
        ]
    )
    ticked = tick_task_id("s1", _at(60))
    for n, (tenant, task, ok) in enumerate(
        [
            ("acme", "t1", True),
            ("globex", "t2", False),
            ("acme", "t3", True),
            ("acme", ticked, True),
        ]
    ):
        events = _task(clock, tenant, task, n, ok=ok)
        appends += [events[:5], events[5:]]  # a task lands in two appends
    appends.append(
        [
            clock.ev(TenantBudgetChanged(tenant_id="acme", monthly_budget="12.50"), "acme", "acme"),
            clock.ev(
                LeaseReleased(lease_id="l1", node_id="car-1", task_id="t1"), PLATFORM_TENANT, "l1"
            ),
            clock.ev(NodeUnparked(node_id="car-2"), PLATFORM_TENANT, "car-2"),
            clock.ev(NodeLost(node_id="car-1", last_seen=_at(90)), PLATFORM_TENANT, "car-1"),
        ]
    )
    # Saved sessions: acme's "crm" held, saved, held again and released; globex's deleted.
    sealed = SealedSecret(key_id="k1-x", nonce="bm9uY2U", ciphertext="c2VhbGVk")
    for tenant, name, ends in (
        ("acme", "crm", ("saved", "released")),
        ("globex", "erp", ("saved", "deleted")),
    ):
        appends.append([clock.ev(SessionClaimed(name=name, task_id="t1"), tenant, name)])
        appends.append([clock.ev(SessionSaved(
            name=name, task_id="t1", state=sealed, size_bytes=40, expires_at=_at(600)
        ), tenant, name)])  # fmt: skip
        appends.append([clock.ev(SessionClaimed(name=name, task_id="t2"), tenant, name)])
        last: Event = (
            SessionReleased(name=name, task_id="t2")
            if ends[1] == "released"
            else SessionDeleted(name=name)
        )
        appends.append([clock.ev(last, tenant, name)])
    return _one_aggregate_each(appends)


def _one_aggregate_each(appends: list[list[Envelope]]) -> list[list[Envelope]]:
    # An append covers one aggregate: split a group where the aggregate changes.
    out: list[list[Envelope]] = []
    for group in appends:
        for env in group:
            key = (env.tenant, env.aggregate_type, env.aggregate_id)
            last = out[-1][-1] if out and out[-1] else None
            if (
                last is None
                or group.index(env) == 0
                or key != (last.tenant, last.aggregate_type, last.aggregate_id)
            ):
                out.append([env])
            else:
                out[-1].append(env)
    return out


async def dump(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table of the database, order-independent."""
    async with pool.acquire() as conn:
        tables = [r[0] for r in await conn.fetch(TABLES_SQL)]
        return {
            table: sorted((tuple(r) for r in await conn.fetch(f"SELECT * FROM {table}")), key=repr)
            for table in tables
        }


def reads(projection: Projection, subject: str) -> bool:
    return any(subject_matches(p, subject) for p in projection.subjects)


class _Around:
    """The real projection, seen through `apply`; everything else goes to it unchanged."""

    def __init__(self, inner: Projection, event_id: str) -> None:
        self.inner = inner
        self.event_id = event_id
        self.name = inner.name
        self.subjects = inner.subjects

    async def create(self, conn: Conn) -> None:
        await self.inner.create(conn)

    async def drop(self, conn: Conn) -> None:
        await self.inner.drop(conn)


class PoisonedBy(_Around):
    """The real projection, except that one event breaks it (as a bad payload would)."""

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        if any(str(e.envelope.id) == self.event_id for e in events):
            raise ValueError(f"cannot apply event {self.event_id}")
        await self.inner.apply(conn, events)


class Without(_Around):
    """The real projection never shown one event: what a poisoned run must equal."""

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        kept = [e for e in events if str(e.envelope.id) != self.event_id]
        if kept:
            await self.inner.apply(conn, kept)

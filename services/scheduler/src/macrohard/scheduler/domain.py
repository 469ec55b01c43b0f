"""Schedules as a pure fold of their events, and the one decision: which tick is due now.

Exactly once, however many replicas run and however often they restart, comes from the
log, not from coordination between replicas: the tick's task id is derived from the
schedule and the tick (`tick_task_id`), its TaskSubmitted is appended with expected version
0 on that task, and its event id is derived too. Of any number of appends for one tick, the
log lets exactly one in; the others see a ConcurrencyConflict (or a duplicate), which means
"done already". No clock or I/O here: `now` is an argument.

Catch-up policy: a scheduler that was down over several ticks runs only the latest one it
missed (cron's own behaviour after downtime is to run none; running every missed tick at
once would flood the tenant with stale work). Ticks before the schedule was created or
resumed never run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from macrohard.contracts.envelope import Envelope
from macrohard.contracts.schedules import (
    ScheduleCreated,
    ScheduleDeleted,
    SchedulePaused,
    ScheduleResumed,
    TaskTemplate,
)
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.scheduler.cron import Cron, parse_cron

ScheduleStatus = Literal["active", "paused", "deleted"]
_TICK_NAMESPACE = uuid.UUID("0c6f7d0e-5d7e-4b55-9a53-6f2b3f5d8e21")


@dataclass(frozen=True, slots=True)
class Schedule:
    tenant: str
    schedule_id: str
    name: str
    cron: Cron
    template: TaskTemplate
    status: ScheduleStatus
    # When the schedule last became active (created or resumed): earlier ticks never run.
    active_since: datetime


def evolve(state: Schedule | None, env: Envelope) -> Schedule | None:
    """Fold one schedule event. A deleted schedule stays deleted."""
    p = env.payload
    if isinstance(p, ScheduleCreated):
        if state is not None:
            return state
        return Schedule(
            tenant=env.tenant,
            schedule_id=p.schedule_id,
            name=p.name,
            cron=parse_cron(p.cron),
            template=p.template,
            status="active",
            active_since=env.occurred_at,
        )
    if state is None or state.status == "deleted":
        return state
    if isinstance(p, SchedulePaused):
        return replace(state, status="paused")
    if isinstance(p, ScheduleResumed) and state.status == "paused":
        return replace(state, status="active", active_since=env.occurred_at)
    if isinstance(p, ScheduleDeleted):
        return replace(state, status="deleted")
    return state


def due_tick(schedule: Schedule, now: datetime) -> datetime | None:
    """The tick that should have a task by `now` (the latest one), or None."""
    if schedule.status != "active":
        return None
    tick = schedule.cron.latest_at_or_before(now)
    if tick is None or tick < schedule.active_since:
        return None
    return tick


def tick_task_id(schedule_id: str, tick: datetime) -> str:
    """The task id of a schedule's tick: the same on every replica, before and after restarts."""
    return str(uuid.uuid5(_TICK_NAMESPACE, f"{schedule_id}/{tick.isoformat()}"))


def tick_submission(schedule: Schedule, tick: datetime) -> TaskSubmitted:
    t = schedule.template
    return TaskSubmitted(
        task_id=tick_task_id(schedule.schedule_id, tick),
        goal=t.goal,
        start_url=t.start_url,
        inputs=dict(t.inputs),
        max_steps=t.max_steps,
        webhook_url=t.webhook_url,
        schedule_id=schedule.schedule_id,
        scheduled_for=tick,
    )

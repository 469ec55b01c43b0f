"""Schedules: a cron expression and a task template; the scheduler submits one task per tick.

The gateway appends what the tenant asks (create, pause, resume, delete) to the schedule's
aggregate; the scheduler service reads them and, at each tick, appends the tick's
`TaskSubmitted` (with `schedule_id` and `scheduled_for`) to a task whose id is derived from
the schedule and the tick, so any number of scheduler replicas submit it exactly once.
"""

from __future__ import annotations

import msgspec

from macrohard.contracts.envelope import Event


class TaskTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """What each tick's task is. No secrets: they are sealed to one task id (see secrets)."""

    goal: str
    start_url: str
    inputs: dict[str, str] = {}
    max_steps: int = 30
    webhook_url: str | None = None


class ScheduleCreated(Event, frozen=True, kw_only=True):
    aggregate_type = "schedule"

    schedule_id: str
    name: str
    cron: str  # five fields, UTC: minute hour day-of-month month day-of-week
    template: TaskTemplate


class SchedulePaused(Event, frozen=True, kw_only=True):
    aggregate_type = "schedule"

    schedule_id: str


class ScheduleResumed(Event, frozen=True, kw_only=True):
    aggregate_type = "schedule"

    schedule_id: str


class ScheduleDeleted(Event, frozen=True, kw_only=True):
    aggregate_type = "schedule"

    schedule_id: str


EVENTS: tuple[type[Event], ...] = (
    ScheduleCreated,
    SchedulePaused,
    ScheduleResumed,
    ScheduleDeleted,
)

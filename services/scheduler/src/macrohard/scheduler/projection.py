"""The scheduler's read model in schema `scheduler`: schedules, and each tick's run.

A run is a task a schedule submitted (TaskSubmitted with `schedule_id`); its status follows
that task's end. The gateway lists both through `macrohard.scheduler.public`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.schedules import (
    ScheduleCreated,
    ScheduleDeleted,
    SchedulePaused,
    ScheduleResumed,
)
from macrohard.contracts.subjects import type_filter
from macrohard.contracts.tasks import TaskCancelled, TaskCompleted, TaskFailed, TaskSubmitted
from macrohard.eventlog.db import Conn

DDL = """
CREATE SCHEMA IF NOT EXISTS scheduler;
CREATE TABLE IF NOT EXISTS scheduler.schedules (
    tenant_id text NOT NULL,
    schedule_id text NOT NULL,
    name text NOT NULL,
    cron text NOT NULL,
    template jsonb NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, schedule_id)
);
CREATE TABLE IF NOT EXISTS scheduler.runs (
    tenant_id text NOT NULL,
    task_id text NOT NULL,
    schedule_id text NOT NULL,
    scheduled_for timestamptz NOT NULL,
    status text NOT NULL,
    submitted_seq bigint NOT NULL,
    PRIMARY KEY (tenant_id, task_id)
);
CREATE INDEX IF NOT EXISTS runs_of_schedule
    ON scheduler.runs (tenant_id, schedule_id, scheduled_for DESC);
"""

_STATUS = {
    "SchedulePaused": "paused",
    "ScheduleResumed": "active",
    "ScheduleDeleted": "deleted",
    "TaskCompleted": "completed",
    "TaskFailed": "failed",
    "TaskCancelled": "cancelled",
}


class SchedulerProjection:
    name = "scheduler"
    subjects: Sequence[str] = (
        "ev.*.schedule.>",
        type_filter("TaskSubmitted", aggregate_type="task"),
        type_filter("TaskStarted", aggregate_type="task"),
        type_filter("TaskCompleted", aggregate_type="task"),
        type_filter("TaskFailed", aggregate_type="task"),
        type_filter("TaskCancelled", aggregate_type="task"),
    )

    async def create(self, conn: Conn) -> None:
        await conn.execute(DDL)

    async def drop(self, conn: Conn) -> None:
        await conn.execute("DROP TABLE IF EXISTS scheduler.schedules, scheduler.runs")

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        # Few schedule events and few scheduled tasks among many task events: statement per
        # relevant event, and task ends only touch rows that exist (an UPDATE of none).
        ends: list[tuple[str, str, str]] = []
        for rec in events:
            env, p = rec.envelope, rec.payload
            if isinstance(p, ScheduleCreated):
                await conn.execute(
                    """INSERT INTO scheduler.schedules VALUES ($1,$2,$3,$4,$5,'active',$6,$6)
                       ON CONFLICT DO NOTHING""",
                    env.tenant, p.schedule_id, p.name, p.cron,
                    msgspec.json.encode(p.template).decode(), env.occurred_at,
                )  # fmt: skip
            elif isinstance(p, SchedulePaused | ScheduleResumed | ScheduleDeleted):
                await conn.execute(
                    """UPDATE scheduler.schedules SET status = $3, updated_at = $4
                       WHERE tenant_id = $1 AND schedule_id = $2 AND status <> 'deleted'""",
                    env.tenant, p.schedule_id, _STATUS[env.type], env.occurred_at,
                )  # fmt: skip
            elif isinstance(p, TaskSubmitted) and p.schedule_id and p.scheduled_for:
                await conn.execute(
                    """INSERT INTO scheduler.runs VALUES ($1,$2,$3,$4,'submitted',$5)
                       ON CONFLICT DO NOTHING""",
                    env.tenant, p.task_id, p.schedule_id, p.scheduled_for, rec.sequence,
                )  # fmt: skip
            elif env.type == "TaskStarted":
                ends.append((env.tenant, env.aggregate_id, "running"))
            elif isinstance(p, TaskCompleted | TaskFailed | TaskCancelled):
                ends.append((env.tenant, env.aggregate_id, _STATUS[env.type]))
        if ends:
            await conn.executemany(
                """UPDATE scheduler.runs SET status = $3
                   WHERE tenant_id = $1 AND task_id = $2
                     AND status NOT IN ('completed', 'failed', 'cancelled')""",
                ends,
            )

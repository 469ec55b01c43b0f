"""The scheduler's read model as queries, and cron validation (exported by `public.py`)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from macrohard.contracts.schedules import TaskTemplate
from macrohard.eventlog.store import EventStore
from macrohard.scheduler.cron import parse_cron
from macrohard.scheduler.domain import evolve

_decode_template = msgspec.json.Decoder(TaskTemplate).decode


class ScheduleView(msgspec.Struct, kw_only=True):
    schedule_id: str
    name: str
    cron: str
    template: TaskTemplate
    status: str
    created_at: datetime
    updated_at: datetime
    next_ticks: list[datetime] = []


class ScheduleRun(msgspec.Struct, kw_only=True):
    task_id: str
    scheduled_for: datetime
    status: str


def next_ticks(cron: str, after: datetime, count: int = 3) -> list[datetime]:
    """The next `count` ticks of a valid cron expression after `after`."""
    parsed, out = parse_cron(cron), list[datetime]()
    at: datetime | None = after
    while at is not None and len(out) < count:
        at = parsed.next_after(at)
        if at is not None:
            out.append(at)
    return out


async def _fetch(
    conn: asyncpg.Connection | asyncpg.Pool, query: str, *args: object
) -> list[asyncpg.Record]:
    try:
        return list(await conn.fetch(query, *args))
    except asyncpg.UndefinedTableError:
        # The scheduler has not created its read model yet on this platform: nothing yet.
        return []


def _view(row: asyncpg.Record, now: datetime | None) -> ScheduleView:
    view = ScheduleView(
        schedule_id=row["schedule_id"],
        name=row["name"],
        cron=row["cron"],
        template=_decode_template(row["template"]),
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    if now is not None and view.status == "active":
        view.next_ticks = next_ticks(view.cron, now)
    return view


_COLUMNS = "schedule_id, name, cron, template::text AS template, status, created_at, updated_at"


async def schedule(
    conn: asyncpg.Connection | asyncpg.Pool, tenant: str, schedule_id: str,
    now: datetime | None = None,
) -> ScheduleView | None:  # fmt: skip
    rows = await _fetch(
        conn,
        f"SELECT {_COLUMNS} FROM scheduler.schedules WHERE tenant_id = $1 AND schedule_id = $2",
        tenant,
        schedule_id,
    )
    return _view(rows[0], now) if rows else None


async def schedules(
    conn: asyncpg.Connection | asyncpg.Pool, tenant: str, now: datetime | None = None
) -> list[ScheduleView]:
    """The tenant's schedules that are not deleted, oldest first."""
    rows = await _fetch(
        conn,
        f"""SELECT {_COLUMNS} FROM scheduler.schedules
            WHERE tenant_id = $1 AND status <> 'deleted' ORDER BY created_at""",
        tenant,
    )
    return [_view(r, now) for r in rows]


async def runs(
    conn: asyncpg.Connection | asyncpg.Pool, tenant: str, schedule_id: str, limit: int = 50
) -> list[ScheduleRun]:
    """The schedule's runs, newest tick first."""
    rows = await _fetch(
        conn,
        """SELECT task_id, scheduled_for, status FROM scheduler.runs
           WHERE tenant_id = $1 AND schedule_id = $2 ORDER BY scheduled_for DESC LIMIT $3""",
        tenant,
        schedule_id,
        limit,
    )
    return [ScheduleRun(task_id=r["task_id"], scheduled_for=r["scheduled_for"],
                        status=r["status"]) for r in rows]  # fmt: skip


async def schedule_from_log(
    store: EventStore, tenant: str, schedule_id: str, now: datetime | None = None
) -> ScheduleView | None:
    """The schedule folded from the log: the truth, read through when the read model has not
    caught up yet (a schedule just created, paused, resumed). None if there is none."""
    events = await store.read_aggregate(tenant, "schedule", schedule_id)
    state = None
    for rec in events:
        state = evolve(state, rec.envelope)
    if state is None:
        return None
    view = ScheduleView(
        schedule_id=state.schedule_id,
        name=state.name,
        cron=state.cron.expression,
        template=state.template,
        status=state.status,
        created_at=events[0].envelope.occurred_at,
        updated_at=events[-1].envelope.occurred_at,
    )
    if now is not None and view.status == "active":
        view.next_ticks = next_ticks(view.cron, now)
    return view

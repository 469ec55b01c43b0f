"""Exactly one task per tick: two scheduler replicas on a real NATS log, restarts, pauses.

The clock is an argument (domain.py takes `now`), so three minutes of ticks take a second.
Each replica has its own NATS connection, its own fold of the log and its own ticker, as
two processes would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import nats
from nats.aio.subscription import Subscription

from macrohard.contracts import envelope
from macrohard.contracts.schedules import (
    ScheduleCreated,
    ScheduleDeleted,
    SchedulePaused,
    ScheduleResumed,
    TaskTemplate,
)
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.eventlog import EventStore
from macrohard.scheduler.domain import tick_task_id
from macrohard.scheduler.handlers import ScheduleBook, Ticker, follow_schedules

TENANT = "acme"
T0 = datetime(2026, 11, 30, 5, 0, 20, tzinfo=UTC)
TEMPLATE = TaskTemplate(goal="export the orders", start_url="https://example.com/orders")


@dataclass
class Replica:
    ticker: Ticker
    sub: Subscription


@asynccontextmanager
async def replica(nats_url: str) -> AsyncIterator[Replica]:
    nc = await nats.connect(nats_url)
    store = EventStore(nc)
    book = ScheduleBook()
    sub = await follow_schedules(nc, book)
    await asyncio.wait_for(book.live.wait(), 5)
    try:
        yield Replica(Ticker(store, book), sub)
    finally:
        await sub.unsubscribe()
        await store.close()
        await nc.close()


async def schedule_event(store: EventStore, event: object, at: datetime) -> None:
    assert isinstance(event, ScheduleCreated | SchedulePaused | ScheduleResumed | ScheduleDeleted)
    env = envelope(event, tenant=TENANT, aggregate_id=event.schedule_id, occurred_at=at)
    await store.append([env], expected_version=None)


async def seen(r: Replica, schedule_id: str, status: str) -> None:
    async def wait() -> None:
        # The book has no change event to await: poll it.
        while (s := r.ticker.book.schedules.get(schedule_id)) is None or s.status != status:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), 5)


async def submitted_ticks(store: EventStore, schedule_id: str, ticks: list[datetime]) -> list[int]:
    """How many TaskSubmitted each tick's task has in the log."""
    counts = []
    for tick in ticks:
        events = await store.read_aggregate(TENANT, "task", tick_task_id(schedule_id, tick))
        subs = [e.payload for e in events if isinstance(e.payload, TaskSubmitted)]
        assert all(s.schedule_id == schedule_id and s.scheduled_for == tick for s in subs)
        counts.append(len(subs))
    return counts


async def test_two_replicas_submit_each_tick_exactly_once_even_after_restarts(
    nats_url: str, store: EventStore
) -> None:
    created = ScheduleCreated(schedule_id="s-1", name="orders", cron="* * * * *", template=TEMPLATE)
    await schedule_event(store, created, T0)
    minutes = [T0.replace(second=0) + timedelta(minutes=m) for m in (1, 2, 3)]
    by_replica: list[str] = []
    async with replica(nats_url) as a, replica(nats_url) as b:
        await seen(a, "s-1", "active")
        await seen(b, "s-1", "active")
        # Before the first tick after creation (the 05:00 tick precedes it): nothing.
        assert await a.ticker.tick(T0 + timedelta(seconds=5)) == []
        for minute in minutes:
            # Both replicas check the clock many times within each minute, concurrently.
            for second in (0, 1, 30, 59):
                now = minute + timedelta(seconds=second)
                done = await asyncio.gather(a.ticker.tick(now), b.ticker.tick(now))
                by_replica += [*done[0], *done[1]]
    assert sorted(by_replica) == sorted(tick_task_id("s-1", m) for m in minutes)
    assert await submitted_ticks(store, "s-1", minutes) == [1, 1, 1]

    # A restart (fresh memory) in the same minute submits nothing again.
    async with replica(nats_url) as c:
        await seen(c, "s-1", "active")
        assert await c.ticker.tick(minutes[-1] + timedelta(seconds=45)) == []
        # Down for a while: only the latest missed tick runs, once.
        later = minutes[-1] + timedelta(minutes=10, seconds=3)
        assert await c.ticker.tick(later) == [tick_task_id("s-1", later.replace(second=0))]
        assert await c.ticker.tick(later) == []
    assert await submitted_ticks(store, "s-1", [*minutes, later.replace(second=0)]) == [1] * 4


async def test_paused_schedules_skip_ticks_and_resume_from_the_resume(
    nats_url: str, store: EventStore
) -> None:
    created = ScheduleCreated(schedule_id="s-2", name="x", cron="*/5 * * * *", template=TEMPLATE)
    await schedule_event(store, created, T0)
    async with replica(nats_url) as r:
        await seen(r, "s-2", "active")
        await schedule_event(store, SchedulePaused(schedule_id="s-2"), T0 + timedelta(minutes=1))
        await seen(r, "s-2", "paused")
        assert await r.ticker.tick(T0 + timedelta(minutes=6)) == []  # 05:05 skipped
        resumed_at = T0 + timedelta(minutes=7)
        await schedule_event(store, ScheduleResumed(schedule_id="s-2"), resumed_at)
        await seen(r, "s-2", "active")
        # The skipped 05:05 tick does not run late on resume; 05:10 does.
        assert await r.ticker.tick(resumed_at + timedelta(seconds=1)) == []
        tick = datetime(2026, 11, 30, 5, 10, tzinfo=UTC)
        assert await r.ticker.tick(tick) == [tick_task_id("s-2", tick)]
        await schedule_event(store, ScheduleDeleted(schedule_id="s-2"), tick)
        await seen(r, "s-2", "deleted")
        # Deleted stays deleted: neither ticks nor a resume bring it back.
        await schedule_event(store, ScheduleResumed(schedule_id="s-2"), tick)
        await asyncio.sleep(0.1)
        assert r.ticker.book.schedules["s-2"].status == "deleted"
        assert await r.ticker.tick(tick + timedelta(minutes=5)) == []

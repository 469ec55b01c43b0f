"""What the scheduler reacts to: schedule events in the log, and the clock.

Every replica keeps every schedule in memory, read with an ordered consumer from sequence 1
on each start (the node registry's pattern: a few events per schedule, no server-side
position that could disagree with the fold). Each replica ticks on its own; the log, not a
leader election, makes each tick's task exist once (see domain.py). A leader would need a
lease and failover; with derived ids a second replica costs one refused append per tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js.api import ConsumerConfig, DeliverPolicy

from macrohard.contracts import EVENTS_STREAM, REGISTRY
from macrohard.contracts.envelope import RecordedEvent, derived_event_id, envelope
from macrohard.contracts.schedules import EVENTS as SCHEDULE_EVENTS
from macrohard.eventlog import ConcurrencyConflict, EventStore
from macrohard.scheduler import domain
from macrohard.scheduler.domain import Schedule

log = logging.getLogger("macrohard.scheduler")

SCHEDULE_SUBJECTS = ["ev.*.schedule.>"]
_SCHEDULE_TYPES = frozenset(e.__name__ for e in SCHEDULE_EVENTS)


class ScheduleBook:
    """Every schedule, folded from the log; and the tick each one last had handled here."""

    def __init__(self) -> None:
        self.schedules: dict[str, Schedule] = {}
        self.handled: dict[str, datetime] = {}
        self.live = asyncio.Event()

    def apply(self, rec: RecordedEvent) -> None:
        if rec.type not in _SCHEDULE_TYPES:
            return
        sid = rec.envelope.aggregate_id
        state = domain.evolve(self.schedules.get(sid), rec.envelope)
        if state is not None:
            self.schedules[sid] = state

    def active(self) -> list[Schedule]:
        return [s for s in self.schedules.values() if s.status == "active"]


async def follow_schedules(nc: NATS, book: ScheduleBook) -> Subscription:
    """Replay every schedule event, set `book.live` when caught up, keep following."""

    async def on_msg(msg: Msg) -> None:
        meta = msg.metadata
        try:
            book.apply(REGISTRY.recorded(msg.data, sequence=meta.sequence.stream,
                                         subject=msg.subject))  # fmt: skip
        except ValueError:
            # A schedule event that does not fold (its cron was validated at the gateway,
            # so this is a bug or a hand-written event): skip it, loudly, and keep going.
            log.exception("could not apply schedule event", extra={"seq": meta.sequence.stream})
        if meta.num_pending == 0:
            book.live.set()

    sub = await nc.jetstream().subscribe(
        "",
        stream=EVENTS_STREAM,
        ordered_consumer=True,
        config=ConsumerConfig(filter_subjects=SCHEDULE_SUBJECTS, deliver_policy=DeliverPolicy.ALL),
        cb=on_msg,
        pending_msgs_limit=-1,
        pending_bytes_limit=-1,
    )
    if not (await sub.consumer_info()).num_pending:
        book.live.set()
    return sub


class Ticker:
    """Submits each due tick's task; `tick(now)` is one pass (tests drive it with their clock)."""

    def __init__(self, store: EventStore, book: ScheduleBook) -> None:
        self.store = store
        self.book = book

    async def tick(self, now: datetime) -> list[str]:
        """One pass over the active schedules; returns the task ids this call appended."""
        submitted: list[str] = []
        for schedule in self.book.active():
            due = domain.due_tick(schedule, now)
            if due is None or self.book.handled.get(schedule.schedule_id) == due:
                continue
            event = domain.tick_submission(schedule, due)
            env = envelope(
                event,
                tenant=schedule.tenant,
                aggregate_id=event.task_id,
                event_id=derived_event_id(event.task_id, "scheduled"),
            )
            try:
                # Version 0: the task must not exist yet. Whoever appends second is told so.
                result = await self.store.append([env], expected_version=0)
            except ConcurrencyConflict:
                result = None
            if result is not None and not result.duplicates:
                submitted.append(event.task_id)
                log.info(
                    "tick submitted",
                    extra={"schedule": schedule.schedule_id, "tick": due.isoformat(),
                           "task": event.task_id},
                )  # fmt: skip
            self.book.handled[schedule.schedule_id] = due
        return submitted


async def tick_forever(ticker: Ticker, clock: Callable[[], datetime], period_s: float) -> None:
    await ticker.book.live.wait()
    while True:
        try:
            await ticker.tick(clock())
        except (NatsError, TimeoutError) as exc:
            # NATS unreachable for a moment: the next pass submits what is still due.
            log.warning("tick pass failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        await asyncio.sleep(period_s)

"""Durable pull consumers with at-least-once delivery and a dead-letter subject.

Handlers are declared with FastStream (so the AsyncAPI document of the bus is generated from
the code that actually runs); this module adds what FastStream leaves to us: decoding into a
RecordedEvent, per-message correlation in logs, retry with backoff, dead-lettering after
`max_deliver` failed attempts, and metrics.

Why the server's own MaxDeliver stays unlimited: if the server stopped redelivering after N
attempts, a process that crashed during attempt N would leave the message neither handled
nor dead-lettered. We count attempts ourselves (`num_delivered`) and dead-letter explicitly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import msgspec
import nats.errors
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy

from macrohard.contracts import REGISTRY, EventRegistry
from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.subjects import EVENTS_STREAM, subject_matches
from macrohard.eventlog.deadletter import H_SEQUENCE, RetryRefused, dead_letter, retry_subject
from macrohard.eventlog.logs import correlated
from macrohard.eventlog.metrics import (
    CONSUMER_LAG,
    DEAD_LETTERED,
    EVENTS_HANDLED,
    HANDLER_SECONDS,
)
from macrohard.eventlog.provenance import refusal, verified
from macrohard.eventlog.reader import read_message

log = logging.getLogger("macrohard.consumer")

EventHandler = Callable[[RecordedEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """What a durable consumer reads and how hard it tries.

    Replicas of a service share one durable name, so the server spreads messages across them
    (that is how `--scale actuator=4` works).
    """

    durable: str
    subjects: Sequence[str]
    max_deliver: int = 5
    # Short, because it is how long a dead replica's message waits before another replica
    # gets it; a live handler that takes longer keeps its message with progress acks.
    ack_wait_s: float = 5.0
    batch_size: int = 16
    backoff_s: Sequence[float] = (0.2, 1.0, 5.0, 15.0)
    deliver_new_only: bool = False
    description: str = ""
    # 0: a fetched batch is handled before the next fetch (FastStream's pull loop). N > 0:
    # each message is handled in its own task, up to N at once, and the loop fetches on:
    # one slow aggregate (a hostile page) never holds back the others' messages.
    max_in_flight: int = 0

    def backoff(self, attempt: int) -> float:
        return self.backoff_s[min(attempt - 1, len(self.backoff_s) - 1)]


async def _keep_in_progress(message: NatsMessage, every_s: float) -> None:
    """Progress acks (`+WPI`) while a handler works: each restarts the server's ack wait."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await message.raw_message.in_progress()
        except (nats.errors.Error, OSError) as exc:
            # A lost progress ack costs at most a duplicate delivery, which handlers absorb.
            log.warning("progress ack failed", extra={"error": str(exc)})


def subscribe(
    broker: NatsBroker,
    spec: ConsumerSpec,
    handler: EventHandler,
    *,
    dlq_connection: Callable[[], NATS],
    registry: EventRegistry = REGISTRY,
    inbox_prefix: str = "_INBOX",
) -> None:
    """Register `handler` on `broker` as a durable pull consumer of the EVENTS stream.

    `dlq_connection` returns the NATS connection used to dead-letter (resolved lazily: the
    broker connects only when started). `inbox_prefix` is where the server delivers fetched
    batches: FastStream passes `_INBOX.` to nats-py unless told, whatever the connection's
    own prefix, and a least-privileged user may subscribe only under its own.
    """

    # FastStream runs the messages of one fetched batch concurrently, and their order is
    # not guaranteed (redeliveries after a nak are not ordered either). Handlers therefore
    # treat a message as "this aggregate changed" and fold its state from the log, which
    # is ordered. What we do guarantee: one handler at a time per aggregate, so two events
    # of one task never race each other into a concurrency conflict.
    locks: dict[str, asyncio.Lock] = {}

    async def in_order(message: NatsMessage) -> None:
        key = message.raw_message.subject.rpartition(".")[0]
        lock = locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await handle_one(message)
        finally:
            if not lock.locked() and locks.get(key) is lock:
                del locks[key]

    slots = asyncio.Semaphore(max(spec.max_in_flight, 1))
    in_flight: set[asyncio.Task[None]] = set()

    async def detached(message: NatsMessage, alive: asyncio.Task[None]) -> None:
        try:
            await in_order(message)
        finally:
            slots.release()
            alive.cancel()

    async def on_message(message: NatsMessage) -> None:
        # The one keep-alive, from receipt (waiting for a slot or the aggregate's lock counts
        # too) until the ack: progress acks tell the server we are alive, so `ack_wait` is
        # only how soon a *dead* replica's message comes back, never a limit on how long a
        # live handler may take (its own deadlines bound that).
        alive = asyncio.create_task(_keep_in_progress(message, spec.ack_wait_s / 3))
        if not spec.max_in_flight:
            try:
                await in_order(message)
            finally:
                alive.cancel()
            return
        # Waiting for a slot here is the back-pressure: the pull loop fetches no more.
        # Acknowledgement stays with the handling task (manual acks), so a message whose
        # task dies with the process is redelivered after ack_wait like any other.
        try:
            await slots.acquire()
        except BaseException:
            alive.cancel()
            raise
        task = asyncio.create_task(detached(message, alive), name=f"{spec.durable}:message")
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)

    async def handle_one(message: NatsMessage) -> None:
        raw = message.raw_message
        meta = raw.metadata
        seq = meta.sequence.stream
        attempt = meta.num_delivered
        CONSUMER_LAG.labels(spec.durable).set(meta.num_pending)
        event_type = raw.subject.rsplit(".", 1)[-1]
        started = time.perf_counter()
        cid: str | None = None
        error = ""
        final = attempt >= spec.max_deliver
        try:
            rec = registry.recorded(raw.data, sequence=seq, subject=raw.subject)
            cid = rec.header.correlation_id
            forged = refusal(rec, registry)
            if forged is not None:
                # Refused before the handler sees it, and at once: no retry can make a
                # forged envelope agree with its subject.
                error, final = forged, True
            else:
                with correlated(cid):
                    await handler(rec)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            HANDLER_SECONDS.labels(spec.durable).observe(time.perf_counter() - started)
        if not error:
            await raw.ack()
            EVENTS_HANDLED.labels(spec.durable, event_type, "ok").inc()
            return
        with correlated(cid):
            if final:
                await dead_letter(
                    dlq_connection(),
                    consumer=spec.durable,
                    subject=raw.subject,
                    sequence=seq,
                    deliveries=attempt,
                    error=error,
                    data=raw.data,
                )
                await raw.ack()
                DEAD_LETTERED.labels(spec.durable).inc()
                EVENTS_HANDLED.labels(spec.durable, event_type, "dead_lettered").inc()
                log.error(
                    "dead-lettered",
                    extra={
                        "consumer": spec.durable,
                        "seq": seq,
                        "attempts": attempt,
                        "error": error,
                    },
                )
            else:
                await raw.nak(delay=spec.backoff(attempt))
                EVENTS_HANDLED.labels(spec.durable, event_type, "retry").inc()
                log.warning(
                    "handler failed, will retry",
                    extra={
                        "consumer": spec.durable,
                        "seq": seq,
                        "attempt": attempt,
                        "error": error,
                    },
                )

    async def on_retry(message: NatsMessage) -> bytes:
        """An operator's `mh dlq retry`: run the handler once more on a dead letter.

        Core NATS request-reply in the consumer's queue group, so exactly one replica runs
        it and the operator sees the outcome at once. The event is not re-appended to the
        log (that would store it twice); the dead letter is deleted only on success.

        The request names the event by its place in the log and nothing more: the event is
        read from the log, never taken from the request, and only one this consumer's
        filter selects is handled. Whoever may ask for retries (the console, the operator)
        can thus make a consumer handle again what the log holds for it, never an event
        it made up (which the subject permissions would have refused to store).
        """
        headers = message.raw_message.headers or {}
        try:
            rec = await logged_event(int(headers.get(H_SEQUENCE, "0")))
            verified(rec, registry)  # a forged event stays refused, however often retried
            with correlated(rec.header.correlation_id):
                await handler(rec)
        except Exception as exc:
            return msgspec.json.encode({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        EVENTS_HANDLED.labels(spec.durable, rec.type, "retried").inc()
        return msgspec.json.encode({"ok": True})

    async def logged_event(sequence: int) -> RecordedEvent:
        stored = await read_message(dlq_connection(), EVENTS_STREAM, sequence)
        if stored is None:
            raise RetryRefused(f"the log holds no event at sequence {sequence}")
        if not any(subject_matches(f, stored.subject) for f in spec.subjects):
            raise RetryRefused(f"event #{sequence} is not one {spec.durable} consumes")
        return registry.recorded(stored.data, sequence=sequence, subject=stored.subject)

    broker.subscriber(
        retry_subject(spec.durable),
        queue=spec.durable,
        title=f"{spec.durable}:dlq-retry",
        description=f"operator retries of {spec.durable}'s dead letters (mh dlq retry)",
    )(on_retry)

    config = ConsumerConfig(
        durable_name=spec.durable,
        filter_subjects=list(spec.subjects),
        ack_policy=JsAckPolicy.EXPLICIT,
        ack_wait=spec.ack_wait_s,
        max_deliver=-1,
        deliver_policy=DeliverPolicy.NEW if spec.deliver_new_only else DeliverPolicy.ALL,
        max_ack_pending=max(spec.batch_size * 4, spec.max_in_flight * 2, 64),
    )
    broker.subscriber(
        "",
        stream=JStream(EVENTS_STREAM, declare=False),
        durable=spec.durable,
        config=config,
        pull_sub=PullSub(batch_size=spec.batch_size, timeout=1.0),
        inbox_prefix=f"{inbox_prefix}.".encode(),
        ack_policy=AckPolicy.MANUAL,
        title=f"{spec.durable}:consume",
        description=spec.description
        or f"durable consumer {spec.durable} of " + ", ".join(spec.subjects),
    )(on_message)

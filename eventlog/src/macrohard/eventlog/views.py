"""In-memory views that every replica needs whole: replayed from the log on every start.

A durable consumer shares its messages among the replicas of a service: each sees *some* of
the events, and a restarted replica sees none of the past. That is right for work (one
replica handles each task step) and wrong for state every replica decides with (which
tenants are over budget, which cars exist). Such state is a view: an ordered consumer from
sequence 1, on every replica, on every start, that stays live afterwards. `Service.follow`
starts each view and waits until it has caught up before the service handles anything,
so no decision is taken on a half-read history.

Events whose envelope disagrees with their subject are dead-lettered, as everywhere in the
kernel (provenance.py); every replica sees them, the DLQ's de-duplication keeps one copy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy

from macrohard.contracts import EVENTS_STREAM, REGISTRY, EventRegistry
from macrohard.contracts.envelope import RecordedEvent
from macrohard.eventlog.deadletter import dead_letter
from macrohard.eventlog.logs import correlated
from macrohard.eventlog.provenance import refusal

log = logging.getLogger("macrohard.views")

ViewHandler = Callable[[RecordedEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ViewSpec:
    """What a view reads. `name` labels its logs and dead letters."""

    name: str
    subjects: Sequence[str]


class LiveView:
    """One view: replay from sequence 1, then follow the log for as long as it runs."""

    def __init__(
        self, spec: ViewSpec, handler: ViewHandler, *, registry: EventRegistry = REGISTRY
    ) -> None:
        self.spec = spec
        self._handler = handler
        self._registry = registry
        self._sub: Subscription | None = None
        self.caught_up = asyncio.Event()

    async def start(self, nc: NATS, timeout: float = 60.0) -> None:
        """Subscribe and return once the history has been applied."""

        # Deliveries this consumer had made when we asked (consumer sequence, which counts
        # only matching messages); None until asked.
        delivered_at_start: list[int] = []
        applied = [0]

        async def on_msg(msg: Msg) -> None:
            meta = msg.metadata
            seq = meta.sequence.stream
            await self._apply(nc, msg, seq)
            applied[0] = meta.sequence.consumer
            if meta.num_pending == 0 or (
                delivered_at_start and applied[0] >= delivered_at_start[0]
            ):
                self.caught_up.set()

        self._sub = await nc.jetstream().subscribe(
            "",
            stream=EVENTS_STREAM,
            ordered_consumer=True,
            config=ConsumerConfig(
                filter_subjects=list(self.spec.subjects), deliver_policy=DeliverPolicy.ALL
            ),
            cb=on_msg,
            pending_msgs_limit=-1,
            pending_bytes_limit=-1,
        )
        info = await self._sub.consumer_info()
        if not info.num_pending:
            # Nothing more to come. `delivered.stream_seq` is no guide: it moves past
            # messages the filter skips, so a log with none of ours still shows one. What
            # was delivered is applied once the consumer sequence reaches its count.
            delivered = info.delivered.consumer_seq if info.delivered else 0
            delivered_at_start.append(delivered or 0)
            if applied[0] >= delivered_at_start[0]:
                self.caught_up.set()
        await asyncio.wait_for(self.caught_up.wait(), timeout)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _apply(self, nc: NATS, msg: Msg, seq: int) -> None:
        try:
            rec = self._registry.recorded(msg.data, sequence=seq, subject=msg.subject)
        except ValueError as exc:
            await self._refuse(nc, msg, seq, f"{type(exc).__name__}: {exc}")
            return
        forged = refusal(rec, self._registry)
        if forged is not None:
            await self._refuse(nc, msg, seq, forged)
            return
        with correlated(rec.header.correlation_id):
            try:
                await self._handler(rec)
            except Exception:
                # A view cannot stop at one event (every later one would wait behind it);
                # the error is logged with its correlation id and sequence.
                log.exception(
                    "view could not apply an event", extra={"view": self.spec.name, "seq": seq}
                )

    async def _refuse(self, nc: NATS, msg: Msg, seq: int, error: str) -> None:
        await dead_letter(
            nc,
            consumer=self.spec.name,
            subject=msg.subject,
            sequence=seq,
            deliveries=1,
            error=error,
            data=msg.data,
        )
        log.error(
            "view refused an event", extra={"view": self.spec.name, "seq": seq, "error": error}
        )

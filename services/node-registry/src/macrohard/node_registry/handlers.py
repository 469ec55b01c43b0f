"""What the registry reacts to: the fleet's events in the log, and heartbeats.

The log is read with an ordered consumer from sequence 1 on every start, not a durable
consumer: the registry's state is memory, so it must see all of history each time (a few
events per car; 100,000 cars replay in seconds), and an ordered consumer has no server-side
position that could disagree with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from itertools import repeat
from operator import attrgetter

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy

from macrohard.contracts import EVENTS_STREAM, PLATFORM_TENANT, REGISTRY
from macrohard.contracts.fleet import Heartbeat, heartbeat_filter
from macrohard.eventlog import disagreement
from macrohard.node_registry.intake import BatchHandler, subscribe_raw, unsubscribe_raw
from macrohard.node_registry.ownership import PartitionTable
from macrohard.node_registry.registry import Registry

log = logging.getLogger("macrohard.node_registry")

# Node and lease events, and what the platform measured of each car's calls: latency (the
# planner's clock, not the car's) and verification outcomes (reputation, quarantine).
FLEET_SUBJECTS = [
    f"ev.{PLATFORM_TENANT}.node.>",
    f"ev.{PLATFORM_TENANT}.lease.>",
    "ev.*.task.*.InferenceCompleted",
    "ev.*.task.*.InferenceVerified",
    "ev.*.task.*.InferenceDisputed",
]
_decode_beat = msgspec.json.Decoder(Heartbeat).decode


async def follow_log(nc: NATS, registry: Registry, ready: asyncio.Event) -> Subscription:
    """Replay node and lease events, mark the registry live when caught up, keep following."""
    pending_at_start: int | None = None

    async def on_msg(msg: Msg) -> None:
        meta = msg.metadata
        try:
            rec = REGISTRY.recorded(msg.data, sequence=meta.sequence.stream, subject=msg.subject)
            forged = disagreement(rec)
            if forged is None:
                await registry.on_event(rec)
            else:  # e.g. car-1 registering "car-2" on its own subject: never believed
                log.warning("forged fleet event refused", extra={"reason": forged})
        except Exception:
            log.exception("could not apply fleet event", extra={"seq": meta.sequence.stream})
        if not registry.live and meta.num_pending == 0:
            await registry.caught_up()
            ready.set()

    js = nc.jetstream()
    sub = await js.subscribe(
        "",
        stream=EVENTS_STREAM,
        ordered_consumer=True,
        config=ConsumerConfig(filter_subjects=FLEET_SUBJECTS, deliver_policy=DeliverPolicy.ALL),
        cb=on_msg,
        pending_msgs_limit=-1,
        pending_bytes_limit=-1,
    )
    info = await sub.consumer_info()
    pending_at_start = info.num_pending or 0
    if pending_at_start == 0 and not registry.live:
        await registry.caught_up()
        ready.set()
    return sub


def heartbeat_intake(registry: Registry) -> BatchHandler:
    """The registry's handler for a read's worth of heartbeats (every partition's: a read
    mixes them), called by the raw intake (`intake.py`) for every heartbeat it absorbs.

    A car is the last token of its subject: NATS permissions let a car publish only on its
    own subject, so the subject names the car and the payload's own id is not consulted.
    A car not watched yet must also hash to the partition its subject names (a beat on
    another partition's subject would make this replica watch a car it does not own)."""
    clock = time.monotonic

    def on_beats(subjects: list[bytes], payloads: list[bytes]) -> None:
        tokens = b".".join(subjects).split(b".")  # fleet.hb.<partition>.<car>
        if len(tokens) != 4 * len(subjects):  # never from `fleet.hb.<p>.*`; still, one by one
            if len(subjects) > 1:
                for subject, payload in zip(subjects, payloads, strict=True):
                    on_beats([subject], [payload])
            return
        cars, parts = tokens[3::4], tokens[2::4]
        try:
            beats = list(map(_decode_beat, payloads))
        except msgspec.DecodeError:  # a malformed beat says nothing about liveness: drop it
            kept = [
                (car, part, beat)
                for car, part, beat in zip(cars, parts, map(_beat_or_none, payloads), strict=True)
                if beat is not None
            ]
            cars, parts, beats = [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept]
        node_ids = list(map(bytes.decode, cars, repeat("utf-8"), repeat("replace")))
        socs = list(map(_charge, beats))
        if socs and (any(map(math.isnan, socs)) or min(socs) < 0.0 or max(socs) > 1.0):
            # Out of bounds (or NaN): the fleet's last figure stands.
            socs = [
                soc if 0.0 <= soc <= 1.0 else _last_charge(registry, node_id)
                for node_id, soc in zip(node_ids, socs, strict=True)
            ]
        registry.beats(node_ids, socs, clock(), parts)

    return on_beats


_charge = attrgetter("state_of_charge")


def _beat_or_none(payload: bytes) -> Heartbeat | None:
    try:
        return _decode_beat(payload)
    except msgspec.DecodeError:
        return None


def _last_charge(registry: Registry, node_id: str) -> float:
    node = registry.fleet.nodes.get(node_id)
    return node.state_of_charge if node is not None else 1.0


async def absorb_heartbeats(nc: NATS, on_beats: BatchHandler, partition: int) -> Subscription:
    """One partition's heartbeats, on core NATS (telemetry never enters the log), through
    the raw intake (`intake.py`) to `on_beats` (`heartbeat_intake`)."""
    return await subscribe_raw(nc, heartbeat_filter(partition), on_beats)


async def attend_forever(registry: Registry) -> None:
    """Write what heartbeats revealed (a car back, a charge below its owner's minimum)."""
    while True:
        raise_if_cancelled()
        await registry.attention_due.wait()
        try:
            await registry.attend()
        except (nats.errors.Error, TimeoutError):
            log.warning("could not record what heartbeats revealed; retrying", exc_info=True)
            await asyncio.sleep(0.5)


async def own_partitions(
    nc: NATS, registry: Registry, table: PartitionTable, period_s: float
) -> None:
    """Renew this replica's partitions every period; watch what it gains (heartbeats on
    `nc`), drop what it loses. Runs until cancelled, then hands every partition back."""
    subs: dict[int, Subscription] = {}
    on_beats = heartbeat_intake(registry)
    try:
        while True:
            raise_if_cancelled()
            try:
                change = await table.tick()
            except (nats.errors.Error, TimeoutError):
                log.warning("partition table unreachable", exc_info=True)
                change = table.expire_if_stale()
            for p in sorted(change.lost):
                sub = subs.pop(p, None)
                if sub is not None:
                    unsubscribe_raw(nc, sub)
                    await sub.unsubscribe()
            registry.give(change.lost)
            for p in sorted(change.gained):
                subs[p] = await absorb_heartbeats(nc, on_beats, p)
            registry.take(change.gained)
            if change.gained or change.lost:
                log.info(
                    "partitions changed",
                    extra={
                        "replica": registry.replica,
                        "gained": sorted(change.gained),
                        "lost": sorted(change.lost),
                        "owned": len(registry.owned),
                    },
                )
            await asyncio.sleep(period_s)
    finally:
        for sub in subs.values():
            await sub.unsubscribe()
        registry.give(list(registry.owned))
        with contextlib.suppress(nats.errors.Error, TimeoutError, asyncio.TimeoutError):
            await asyncio.shield(table.leave())


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that a library swallowed on the way (nats-py's request can
    absorb a CancelledError mid-append); without this a loop would outlive its cancel."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def sweep_forever(registry: Registry, period_s: float = 0.5) -> None:
    while True:
        raise_if_cancelled()
        await asyncio.sleep(period_s)
        if registry.live:
            try:
                await registry.sweep()
            except Exception:
                log.exception("sweep failed; retrying next period")

"""One registry replica, wired: replay the log, own partitions, serve leases, sweep.

`mh run node-registry` runs this, and so do the tests (the same code path, on short
intervals), so what the tests show is what the service does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from nats.aio.client import Client as NATS

from macrohard.contracts.envelope import new_event_id
from macrohard.contracts.fleet import PARTITIONS
from macrohard.eventlog.store import EventStore
from macrohard.node_registry.api import serve_leases
from macrohard.node_registry.handlers import (
    attend_forever,
    follow_log,
    own_partitions,
    sweep_forever,
)
from macrohard.node_registry.ownership import PartitionTable, registry_bucket
from macrohard.node_registry.registry import Registry
from macrohard.node_registry.slots import SlotBook

# Silent cars are looked for this often: loss is declared within a sweep (+ a liveness
# bucket, 0.1 s) of 3 intervals. Lease revocations are reconciled at most every
# `registry.RECONCILE_S` (a pass over every lease) unless a sweep found a car lost.
SWEEP_S = 0.25


@asynccontextmanager
async def running_replica(
    nc: NATS,
    store: EventStore,
    *,
    heartbeat_interval_s: float,
    replica: str = "",
    heartbeats: NATS | None = None,
) -> AsyncIterator[Registry]:
    """A live replica until the block exits; then its partitions are handed back at once.

    `heartbeats`: a connection of its own for the heartbeat flood (`mh run node-registry`
    opens one). On the shared connection, a replica that falls behind its heartbeats would
    find the replies to its partition-table and lease-slot requests queued behind them,
    time out, and drop its partitions; on its own connection the control plane keeps
    answering while heartbeats wait (or, past NATS's slow-consumer limit, are dropped: a
    car then misses a beat, which three intervals absorb)."""
    kv = await registry_bucket(nc.jetstream())
    replica = replica or new_event_id()[-12:]
    registry = Registry(
        store, heartbeat_interval_s=heartbeat_interval_s, slots=SlotBook(kv), replica=replica
    )
    ready = asyncio.Event()
    subs = [await follow_log(nc, registry, ready)]
    tasks: list[asyncio.Task[None]] = []
    try:
        await ready.wait()
        # Heartbeats and leases only once the log is replayed: before that we would grant
        # leases on capacity we do not know is taken. A partition is owned for one interval
        # per renewal, renewed four times an interval: a dead replica's cars are taken over
        # within ~1.25 intervals, well inside the 3 intervals that declare a car lost.
        table = PartitionTable(kv, replica, PARTITIONS, ttl_s=heartbeat_interval_s)
        tasks.append(
            asyncio.create_task(
                own_partitions(heartbeats or nc, registry, table, heartbeat_interval_s / 4)
            )
        )
        subs += await serve_leases(nc, registry)
        tasks.append(asyncio.create_task(attend_forever(registry)))
        tasks.append(
            asyncio.create_task(
                sweep_forever(registry, period_s=min(SWEEP_S, heartbeat_interval_s / 40))
            )
        )
        yield registry
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sub in subs:
            await sub.unsubscribe()

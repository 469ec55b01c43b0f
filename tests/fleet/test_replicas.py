"""Two registry replicas as real processes (`mh run node-registry`) sharing one fleet: leases
asked of both at once are never granted twice for the same slot; one replica is killed -9,
the survivor takes its partitions within the loss-detection time, declares its silent car
lost and revokes the lease on it, and still grants no slot twice."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack

import msgspec
import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import BucketNotFoundError, KeyNotFoundError

from macrohard.contracts import PLATFORM_TENANT
from macrohard.contracts.fleet import (
    LEASE_RELEASE,
    LEASE_REQUEST,
    PARTITIONS,
    LeaseRelease,
    LeaseReply,
    LeaseRequest,
    partition_of,
)
from macrohard.eventlog.store import EventStore
from macrohard.node_agent.agent import NodeAgent
from macrohard.node_registry.ownership import BUCKET, TABLE_KEY, _Table
from tests.fleet.conftest import running_car

INTERVAL_S = 0.5  # a car is lost after 3 intervals = 1.5 s
CARS = 10  # one lease slot each
REPLICAS = ("r1", "r2")


async def owners(nc: NATS) -> list[str]:
    """The partition table as the replicas wrote it (owner per partition, "" for none)."""
    try:
        kv = await nc.jetstream().key_value(BUCKET)
        entry = await kv.get(TABLE_KEY)
    except (BucketNotFoundError, KeyNotFoundError):
        return [""] * PARTITIONS
    return msgspec.json.decode(entry.value or b"", type=_Table).owners


async def within(seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until `check` holds; fails past `seconds`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await check():
        if loop.time() - start > seconds:
            raise AssertionError(f"not within {seconds}s")
        await asyncio.sleep(0.05)
    return loop.time() - start


@pytest.fixture
def replicas(nats_url: str) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    procs = {}
    for name in REPLICAS:
        env = {
            **os.environ,
            "MH_NATS_URL": nats_url,
            "MH_NODE_REGISTRY_HEARTBEAT_INTERVAL_S": str(INTERVAL_S),
            "MH_NODE_REGISTRY_REPLICA": name,
        }
        env.pop("MH_DATABASE_URL", None)
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "macrohard.cli.main", "run", "node-registry"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


async def ask(nc: NATS, subject: str, body: msgspec.Struct) -> LeaseReply:
    reply = await nc.request(subject, msgspec.json.encode(body), timeout=5)
    return msgspec.json.decode(reply.data, type=LeaseReply)


async def ask_many(nc: NATS, prefix: str, n: int) -> list[LeaseReply]:
    """n lease requests at once: the queue group spreads them over the replicas."""
    return await asyncio.gather(
        *[
            ask(
                nc,
                LEASE_REQUEST,
                LeaseRequest(tenant_id="acme", task_id=f"{prefix}{i}", model="minilm"),
            )
            for i in range(n)
        ]
    )


async def most_held_at_once(store: EventStore, lease_ids: list[str]) -> int:
    """Replay every lease's events in log order: the most leases one car held at once."""
    records = []
    for lease_id in lease_ids:
        records += await store.read_aggregate(PLATFORM_TENANT, "lease", lease_id)
    node_of: dict[str, str] = {}
    held: Counter[str] = Counter()
    worst = 0
    for rec in sorted(records, key=lambda r: r.sequence):
        payload = msgspec.to_builtins(rec.payload)
        if rec.type == "LeaseGranted":
            node_of[payload["lease_id"]] = payload["node_id"]
            held[payload["node_id"]] += 1
            worst = max(worst, held[payload["node_id"]])
        elif rec.type in ("LeaseReleased", "LeaseRevoked"):
            held[node_of[payload["lease_id"]]] -= 1
    return worst


async def test_a_killed_replica_is_taken_over_without_a_double_lease(
    nc: NATS, store: EventStore, replicas: dict[str, subprocess.Popen[bytes]]
) -> None:
    async def shared() -> bool:
        table = await owners(nc)
        return set(table) == set(REPLICAS) and abs(table.count("r1") - table.count("r2")) <= 1

    await within(120, shared)  # two Python processes starting on a loaded machine
    table = await owners(nc)
    async with AsyncExitStack() as stack:
        cars: dict[str, NodeAgent] = {}
        for i in range(CARS):
            car = f"car-{i}"
            cars[car] = await stack.enter_async_context(
                running_car(nc, car, max_leases=1, interval_s=INTERVAL_S)
            )
        watcher = {car: table[partition_of(car)] for car in cars}
        assert set(watcher.values()) == set(REPLICAS), "cars in both replicas' partitions"
        await asyncio.sleep(INTERVAL_S)

        # Three requests per slot at once, over both replicas: every slot granted once.
        first = await ask_many(nc, "t", 3 * CARS)
        granted = [r for r in first if r.ok]
        assert Counter(r.node_id for r in granted) == Counter(set(cars)), first

        # kill -9 the replica watching the most cars, and silence one of its cars.
        victim = Counter(watcher.values()).most_common(1)[0][0]
        silent = min(car for car, r in watcher.items() if r == victim)
        replicas[victim].kill()
        replicas[victim].wait(10)
        cars[silent].heartbeating = False

        async def taken_over() -> bool:
            return set(await owners(nc)) == set(REPLICAS) - {victim}

        takeover_s = await within(10, taken_over)
        assert takeover_s <= 3 * INTERVAL_S  # within the loss-detection time

        async def silent_car_lost_and_freed() -> bool:
            node = await store.read_aggregate(PLATFORM_TENANT, "node", silent)
            lease = next(g.lease_id for g in granted if g.node_id == silent)
            ends = await store.read_aggregate(PLATFORM_TENANT, "lease", lease)
            return any(e.type == "NodeLost" for e in node) and any(
                e.type == "LeaseRevoked" for e in ends
            )

        # Taken over with a fresh grace of 3 intervals, then declared lost.
        await within(3 * INTERVAL_S + takeover_s + 2.0, silent_car_lost_and_freed)

        # Every live slot is still held: nothing more is granted, on any car.
        assert not any(r.ok for r in await ask_many(nc, "u", 5))
        # Two slots freed: exactly those two are granted again, once each.
        freed = [g for g in granted if g.node_id != silent][:2]
        for g in freed:
            assert (await ask(nc, LEASE_RELEASE, LeaseRelease(lease_id=g.lease_id))).ok
        again = [r for r in await ask_many(nc, "v", 6) if r.ok]
        assert sorted(r.node_id for r in again) == sorted(g.node_id for g in freed)

    lease_ids = [r.lease_id for r in granted + again]
    assert await most_held_at_once(store, lease_ids) == 1  # per the log, never two at once

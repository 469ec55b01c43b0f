"""The registry against real NATS: leases, charge floor, model, loss, the read model."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import msgspec
from nats.aio.client import Client as NATS

from macrohard.contracts import PLATFORM_TENANT
from macrohard.contracts.fleet import (
    FLEET_STATS,
    LEASE_RELEASE,
    LEASE_RENEW,
    LEASE_REQUEST,
    FleetStats,
    LeaseGranted,
    LeaseRelease,
    LeaseRenewal,
    LeaseReply,
    LeaseRequest,
    LeaseRevoked,
    NodeLost,
)
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from macrohard.node_agent.domain import CarState, ScheduledChange
from macrohard.node_registry.projection import FleetProjection
from macrohard.node_registry.registry import Registry
from tests.fleet.conftest import INTERVAL_S, running_car


async def ask(nc: NATS, subject: str, body: msgspec.Struct) -> LeaseReply:
    reply = await nc.request(subject, msgspec.json.encode(body), timeout=5)
    return msgspec.json.decode(reply.data, type=LeaseReply)


def lease(model: str = "minilm", tenant: str = "acme", task: str = "t1") -> LeaseRequest:
    return LeaseRequest(tenant_id=tenant, task_id=task, model=model)


async def test_placement_honours_the_charge_floor_and_the_model(
    nc: NATS, registry: Registry
) -> None:
    low = CarState(parked=True, state_of_charge=0.15, reported_soc=0.15)
    plugged = CarState(parked=True, state_of_charge=0.10, reported_soc=0.10, charging=True)
    async with (
        running_car(nc, "car-low", state=low, soc_floor=0.2),
        running_car(nc, "car-plugged", state=plugged, soc_floor=0.2) as car_plugged,
        running_car(nc, "car-other", models=["planner"]),
    ):
        await asyncio.sleep(INTERVAL_S)
        got = await ask(nc, LEASE_REQUEST, lease())
        # Below its floor, car-low is skipped; car-plugged is lower still but charging.
        assert got.ok and got.node_id == "car-plugged", got
        planner = await ask(nc, LEASE_REQUEST, lease(model="planner", task="t2"))
        assert planner.ok and planner.node_id == "car-other"
        unknown = await ask(nc, LEASE_REQUEST, lease(model="gpt-9"))
        assert not unknown.ok and "no node serves" in unknown.error
        # Unplugged below its floor, no car qualifies for minilm any more.
        await car_plugged.apply(ScheduledChange(after_s=0, action="stop_charging"))
        await asyncio.sleep(0.2)
        none = await ask(nc, LEASE_REQUEST, lease(task="t3"))
        assert not none.ok and "no schedulable node" in none.error


async def test_lease_renew_and_release_round_trip(nc: NATS, registry: Registry) -> None:
    async with running_car(nc, "car-1"):
        await asyncio.sleep(INTERVAL_S)
        got = await ask(nc, LEASE_REQUEST, lease())
        assert got.ok and got.power_w == 60.0 and got.owner_account == "owner-car-1"
        renewed = await ask(nc, LEASE_RENEW, LeaseRenewal(lease_id=got.lease_id, ttl_s=120))
        assert renewed.ok and renewed.expires_at and got.expires_at
        assert renewed.expires_at > got.expires_at
        assert (await ask(nc, LEASE_RELEASE, LeaseRelease(lease_id=got.lease_id))).ok
        assert not (await ask(nc, LEASE_RENEW, LeaseRenewal(lease_id=got.lease_id))).ok
        stats = msgspec.json.decode((await nc.request(FLEET_STATS, b"", 5)).data, type=FleetStats)
        assert (stats.nodes, stats.schedulable, stats.leases) == (1, 1, 0)
        assert stats.heartbeats >= 1


async def test_a_silent_node_is_declared_lost_and_its_leases_revoked(
    nc: NATS, store: EventStore, registry: Registry
) -> None:
    async with running_car(nc, "car-quiet") as car, running_car(nc, "car-chatty"):
        await asyncio.sleep(INTERVAL_S)
        got = await ask(nc, LEASE_REQUEST, lease())
        assert got.ok
        quiet_lease = got if got.node_id == "car-quiet" else None
        if quiet_lease is None:  # make sure the silent car holds one
            quiet_lease = await ask(
                nc, LEASE_REQUEST, LeaseRequest(
                    tenant_id="acme", task_id="t9", model="minilm", exclude_nodes=["car-chatty"]
                ),
            )  # fmt: skip
        assert quiet_lease.node_id == "car-quiet"
        car.heartbeating = False
        went_silent = time.monotonic()
        revoked = await _wait_for_event(store, "lease", quiet_lease.lease_id, "LeaseRevoked")
        took = time.monotonic() - went_silent
        lost = await store.read_aggregate(PLATFORM_TENANT, "node", "car-quiet")
        assert any(isinstance(r.payload, NodeLost) for r in lost)
        assert isinstance(revoked, LeaseRevoked) and revoked.reason == "lost"
        # Lost after 3 missed intervals, not before, and not much after.
        assert 2 * INTERVAL_S <= took <= 4 * INTERVAL_S + 2.0, took  # slack: a loaded CI box
        assert registry.fleet.nodes["car-quiet"].lost
        assert not registry.fleet.nodes["car-chatty"].lost
        # A lost car cannot be leased; when it heartbeats again it recovers.
        again = await ask(nc, LEASE_REQUEST, lease(task="t4"))
        assert again.ok and again.node_id == "car-chatty"
        car.heartbeating = True
        await car.heartbeat()
        await asyncio.sleep(0.2)
        assert not registry.fleet.nodes["car-quiet"].lost


async def _wait_for_event(store: EventStore, agg: str, agg_id: str, type_: str) -> object:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for rec in await store.read_aggregate(PLATFORM_TENANT, agg, agg_id):
            if rec.type == type_:
                return rec.payload
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {type_} on {agg}/{agg_id}")


async def test_unparking_revokes_leases_and_the_read_model_counts_it(
    nc: NATS, store: EventStore, registry: Registry, pool: asyncpg.Pool
) -> None:
    async with running_car(nc, "car-1") as car1, running_car(nc, "car-2"):
        await asyncio.sleep(INTERVAL_S)
        got = await ask(nc, LEASE_REQUEST, lease())
        # Equal cars: the tie goes to the smaller id.
        assert got.ok and got.node_id == "car-1"
        target = "car-1"
        await car1.unpark()
        revoked = await _wait_for_event(store, "lease", got.lease_id, "LeaseRevoked")
        assert isinstance(revoked, LeaseRevoked) and revoked.reason == "unparked"
        assert revoked.node_id == target
        # Read while both cars still heartbeat (once they stop they are, rightly, lost).
        runner = ProjectionRunner(nc, pool, FleetProjection())
        await runner.setup()
        await runner.catch_up()
        async with pool.acquire() as conn:
            states = dict(await conn.fetch("SELECT state, nodes FROM fleet.node_states"))
            capacity = await conn.fetchrow("SELECT * FROM fleet.capacity")
            per_hour = await conn.fetch("SELECT preemptions FROM fleet.preemptions_per_hour")
            granted = await conn.fetchval("SELECT count(*) FROM fleet.leases")
        assert states == {"driving": 1, "parked": 1}
        assert capacity["schedulable_nodes"] == 1 and capacity["schedulable_tops"] == 254.0
        assert capacity["schedulable_watts"] == 60.0
        assert [r["preemptions"] for r in per_hour] == [1]
        assert granted == 1


async def test_a_restarted_registry_rebuilds_leases_from_the_log(
    nc: NATS, store: EventStore
) -> None:
    from tests.fleet.conftest import run_registry

    async with run_registry(nc), running_car(nc, "car-1"):
        await asyncio.sleep(INTERVAL_S)
        got = await ask(nc, LEASE_REQUEST, lease())
        assert got.ok
    async with run_registry(nc) as fresh:
        assert set(fresh.fleet.leases) == {got.lease_id}
        assert isinstance(
            (await store.read_aggregate(PLATFORM_TENANT, "lease", got.lease_id))[0].payload,
            LeaseGranted,
        )

"""Owners' terms and measurements on real NATS with real node agents: a car outside its
owner's hours or below its owner's minimum charge gets no lease, a leased car whose
heartbeat reports a charge below the minimum has its lease revoked and not renewed, and
placement follows the latency the planner measured, not the latency a car claims."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import msgspec
from nats.aio.client import Client as NATS

from macrohard.contracts import envelope
from macrohard.contracts.agent import InferenceCompleted
from macrohard.contracts.fleet import (
    LEASE_RENEW,
    LEASE_REQUEST,
    Heartbeat,
    LeaseRenewal,
    NodeBatteryChanged,
    heartbeat_subject,
)
from macrohard.eventlog.store import EventStore
from macrohard.node_agent.domain import CarState
from macrohard.node_registry.preferences import OwnerPreferences
from macrohard.node_registry.registry import Registry
from tests.fleet.conftest import INTERVAL_S, eventually, running_car
from tests.fleet.test_registry import _wait_for_event, ask, lease


async def test_owners_terms_decide_which_car_works_and_when_it_stops(
    nc: NATS, store: EventStore, registry: Registry
) -> None:
    kolkata_hour = datetime.now(UTC).astimezone(ZoneInfo("Asia/Kolkata")).hour
    # Not this hour, nor the next (the test may cross an hour), on the car's own clock.
    elsewhere = [h for h in range(24) if h not in (kolkata_hour, (kolkata_hour + 1) % 24)]
    async with (
        running_car(nc, "car-day", state=CarState(parked=True, state_of_charge=0.8)) as day,
        running_car(nc, "car-night", state=CarState(parked=True, state_of_charge=0.9)) as night,
    ):
        await day.set_preferences(min_state_of_charge=0.5)
        await night.set_preferences(work_hours=elsewhere, time_zone="Asia/Kolkata")
        # A declaration out of bounds is refused; the terms in force stay.
        await day.set_preferences(min_state_of_charge=1.5, time_zone="Mars/Olympus_Mons")
        await eventually(lambda: "car-day" in registry.fleet.refused_preferences)
        assert registry.fleet.nodes["car-day"].prefs == OwnerPreferences(min_state_of_charge=0.5)
        assert registry.fleet.nodes["car-night"].prefs.work_hours == elsewhere
        await asyncio.sleep(INTERVAL_S)

        got = await ask(nc, LEASE_REQUEST, lease(task="t1"))
        assert got.ok and got.node_id == "car-day", got  # car-night is outside its hours
        # The car drains below its owner's minimum: only its heartbeat says so (no battery
        # step event from the car), and that is enough to end the lease.
        day.state = replace(day.state, state_of_charge=0.45)
        revoked = await _wait_for_event(store, "lease", got.lease_id, "LeaseRevoked")
        assert getattr(revoked, "reason", "") == "below the owner's minimum charge"
        recorded = await store.read_aggregate("_platform", "node", "car-day")
        assert any(
            isinstance(r.payload, NodeBatteryChanged) and r.payload.state_of_charge == 0.45
            for r in recorded
        )
        renewed = await ask(nc, LEASE_RENEW, LeaseRenewal(lease_id=got.lease_id))
        assert not renewed.ok
        refused = await ask(nc, LEASE_REQUEST, lease(task="t2"))
        assert not refused.ok, refused  # one car below its minimum, one outside its hours

        # Charged again above the minimum, the car works again.
        day.state = replace(day.state, state_of_charge=0.7)
        await eventually(lambda: registry.fleet.nodes["car-day"].state_of_charge == 0.7)
        again = await ask(nc, LEASE_REQUEST, lease(task="t3"))
        assert again.ok and again.node_id == "car-day"


async def test_placement_follows_the_latency_the_platform_measured_not_the_cars_word(
    nc: NATS, store: EventStore, registry: Registry
) -> None:
    async with running_car(nc, "car-boast"), running_car(nc, "car-quick") as quick:
        # The boaster claims 0.1 ms in its heartbeats; the planner's clock says otherwise.
        await nc.publish(
            heartbeat_subject("car-boast"),
            msgspec.json.encode(Heartbeat(node_id="car-boast", seq=99, latency_ms=0.1)),
        )
        for node_id, ms in (("car-boast", 400.0), ("car-quick", 4.0)):
            done = InferenceCompleted(
                task_id="t-measure", step=1, model="minilm", node_id=node_id,
                owner_account=f"owner-{node_id}", lease_id="l", compute_ms=ms,
                input_bytes=1, output_bytes=1,
            )  # fmt: skip
            await store.append(
                [envelope(done, tenant="acme", aggregate_id="t-measure")], expected_version=None
            )
        await eventually(lambda: len(registry.latency_ms) == 2)
        assert quick.node_id == "car-quick"
        for task in ("m1", "m2", "m3"):
            got = await ask(nc, LEASE_REQUEST, lease(task=task))
            assert got.ok and got.node_id == "car-quick", got

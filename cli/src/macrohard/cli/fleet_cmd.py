"""`mh fleet simulate --nodes N --hours H --speed X`: N simulated cars against a running
registry, without starting N Tritons.

Each car is a real NodeAgent (real events in the log, real heartbeats on NATS) whose
Triton URL points nowhere; its days come from `node_agent.simulation` (parked ~95% of the
time, departures in the commutes, night charging). Simulated time runs X times faster than
the wall clock; heartbeats stay on the wall clock (the registry's interval is wall time).
A synthetic demand holds a share of the fleet's lease slots across three tenants, so a car
leaving mid-lease is a preemption; the run reports, per simulated hour, parked cars,
schedulable cars, TOPS and kW, leases held and preemptions.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import msgspec

from macrohard.contracts.fleet import DEFAULT_HEARTBEAT_INTERVAL_S


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from macrohard.cli.platform import add_platform_args

    p = sub.add_parser("fleet", help="the car fleet: simulate")
    fsub = p.add_subparsers(dest="fleet", required=True)
    s = fsub.add_parser("simulate", help="drive N simulated cars against a running registry")
    add_platform_args(s)
    s.add_argument("--nodes", type=int, default=200)
    s.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    s.add_argument("--speed", type=float, default=3600.0, help="simulated seconds per second")
    s.add_argument("--demand", type=float, default=0.5, help="leases held, per car")
    s.add_argument(
        "--heartbeat-interval",
        type=float,
        default=DEFAULT_HEARTBEAT_INTERVAL_S,
        help="wall seconds",
    )
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--json", dest="json_path", help="write the hourly rows here")
    s.add_argument(
        "--dishonest",
        type=float,
        help="offline: no servers, this share of cars lies; verification, reputation and "
        "billing decide as the platform does (macrohard.bench.fleet_day)",
    )
    s.add_argument("--calls-per-hour", type=float, default=6.0, help="offline: per parked car")
    s.add_argument(
        "--sample",
        type=int,
        default=4,
        help="offline: cars the registry's placement scores per lease (the registry: 32)",
    )
    s.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    if args.dishonest is None:
        return asyncio.run(simulate(args))
    from macrohard.bench.fleet_day import print_figures, simulate_day

    print_figures(simulate_day(args.nodes, args.hours, args.dishonest,
                               calls_per_hour=args.calls_per_hour, seed=args.seed,
                               sample=args.sample))  # fmt: skip
    return 0


@dataclass
class SimCar:
    agent: Any  # NodeAgent
    trips: list[Any]
    next_trip: int = 0
    last_change_s: float = 0.0
    driving: bool = False


@dataclass
class Demand:
    """Synthetic tenants holding leases; a revocation other than expiry is a preemption."""

    target: int
    held: dict[str, str] = field(default_factory=dict)  # lease_id -> tenant
    preemptions: Counter[int] = field(default_factory=Counter)  # sim hour -> count
    refused: int = 0


async def simulate(args: argparse.Namespace) -> int:
    import nats

    from macrohard.bench.registry import wait_registry
    from macrohard.bench.report import report
    from macrohard.cli.platform import resolve
    from macrohard.contracts.envelope import utcnow
    from macrohard.contracts.fleet import FLEET_STATS, LEASE_REQUEST, FleetStats, LeaseReply
    from macrohard.contracts.fleet import LeaseRequest as Req
    from macrohard.node_agent.public import CarState, NodeAgent, NodeIdentity
    from macrohard.node_agent.public import simulation as sim

    platform = resolve(args)
    nc = await nats.connect(platform.nats_url, pending_size=64 * 1024 * 1024)
    await wait_registry(nc)
    rng = random.Random(args.seed)
    days = int(args.hours // 24) + 2
    wall0 = time.monotonic()
    now0 = utcnow()

    def sim_now() -> float:
        return float((time.monotonic() - wall0) * args.speed)

    def wall_of(sim_s: float) -> Any:
        return now0 + timedelta(seconds=(sim_s - sim_now()) / args.speed)

    cars: list[SimCar] = []
    for i in range(args.nodes):
        charging = rng.random() < 0.5
        soc = rng.uniform(0.35, 0.9)
        agent = NodeAgent(
            nc,
            NodeIdentity(node_id=f"sim-car-{i}", owner_account=f"sim-owner-{i % 50}"),
            models=["minilm"],
            heartbeat_interval_s=args.heartbeat_interval,
            state=CarState(charging=charging, state_of_charge=soc, reported_soc=soc),
        )
        cars.append(SimCar(agent, sim.car_trips(args.seed * 100_003 + i, days)))
    for chunk in range(0, len(cars), 100):
        await asyncio.gather(*(c.agent.register() for c in cars[chunk : chunk + 100]))
        await asyncio.gather(
            *(
                c.agent.park(wall_of(sim.next_departure(c.trips, 0.0) or 1e12))
                for c in cars[chunk : chunk + 100]
            )
        )
    print(
        f"{len(cars)} simulated cars registered and parked; simulating {args.hours} h", flush=True
    )

    demand = Demand(target=int(args.demand * args.nodes))
    decode = msgspec.json.Decoder().decode

    async def on_revoked(msg: Any) -> None:
        payload = decode(msg.data).get("payload", {})
        held = demand.held.pop(payload.get("lease_id", ""), None)
        if held is not None and payload.get("reason") != "expired":
            demand.preemptions[int(sim_now() // 3600)] += 1

    await nc.subscribe("ev._platform.lease.*.LeaseRevoked", cb=on_revoked)
    queue: list[tuple[float, int]] = []
    for idx, car in enumerate(cars):
        if car.trips:
            heapq.heappush(queue, (car.trips[0].depart_s, idx))
    rows: list[dict[str, Any]] = []
    next_hour = 0.0
    beat_cursor = 0
    per_tick = max(1, round(len(cars) * 0.05 / args.heartbeat_interval))
    end_s = args.hours * 3600
    ttl = min(600.0, end_s / args.speed + 60)
    while True:
        now_s = sim_now()
        while queue and queue[0][0] <= now_s:
            at, idx = heapq.heappop(queue)
            await _transition(cars[idx], at, wall_of, sim)
            car = cars[idx]
            if car.next_trip < len(car.trips) or car.driving:
                nxt = (
                    car.trips[car.next_trip].depart_s
                    if not car.driving
                    else car.trips[car.next_trip - 1].arrive_s
                )
                heapq.heappush(queue, (nxt, idx))
        for _ in range(per_tick):  # heartbeats spread over the (wall) interval
            await cars[beat_cursor].agent.heartbeat()
            beat_cursor = (beat_cursor + 1) % len(cars)
        for _ in range(min(20, demand.target - len(demand.held))):
            tenant = f"sim-tenant-{len(demand.held) % 3}"
            request = Req(
                tenant_id=tenant, task_id=f"sim-{rng.random():.12f}", model="minilm", ttl_s=ttl
            )
            answer = await nc.request(LEASE_REQUEST, msgspec.json.encode(request), timeout=5)
            reply = msgspec.json.decode(answer.data, type=LeaseReply)
            if reply.ok:
                demand.held[reply.lease_id] = tenant
            else:
                demand.refused += 1
                break
        if now_s >= next_hour:
            stats = msgspec.json.decode(
                (await nc.request(FLEET_STATS, b"", 5)).data, type=FleetStats
            )
            hour = int(next_hour // 3600)
            rows.append(
                {
                    "hour": hour,
                    "parked": sum(1 for c in cars if c.agent.state.parked),
                    "schedulable": stats.schedulable,
                    "schedulable_tops": stats.schedulable_tops,
                    "schedulable_kw": round(stats.schedulable_watts / 1000, 2),
                    "leases": stats.leases,
                    "preemptions": demand.preemptions[hour - 1] if hour else 0,
                }
            )
            next_hour += 3600
        if now_s >= end_s:
            break
        await asyncio.sleep(0.05)
    for chunk in range(0, len(cars), 100):  # the simulation ends: every car drives off
        await asyncio.gather(*(c.agent.unpark() for c in cars[chunk : chunk + 100]))
    await nc.drain()
    _print_rows(rows)
    total = sum(demand.preemptions.values())
    driving = [sim.parked_fraction(c.trips, end_s) for c in cars]
    summary = {
        "nodes": len(cars),
        "hours": args.hours,
        "speed": args.speed,
        "parked_fraction": round(sum(driving) / len(driving), 4),
        "preemptions": total,
        "preemptions_per_hour": round(total / max(args.hours, 1e-9), 2),
        "lease_refusals": demand.refused,
        "hourly": rows,
    }
    report("fleet simulation", summary, None)
    if args.json_path:
        from pathlib import Path

        Path(args.json_path).write_bytes(msgspec.json.encode(summary))
    return 0


async def _transition(car: SimCar, at: float, wall_of: Any, sim: Any) -> None:
    """The car's next departure or arrival, with the battery and charging that go with it."""
    from macrohard.node_agent.public import ScheduledChange, battery

    agent = car.agent
    state = agent.state
    soc = sim.battery_after(
        state.state_of_charge,
        at - car.last_change_s,
        driving=car.driving,
        charging=state.charging,
    )
    agent.state, events = battery(state, agent.node_id, soc)
    await agent.emit(events)
    car.last_change_s = at
    if not car.driving:  # departing
        if agent.state.charging:
            await agent.apply(ScheduledChange(after_s=0, action="stop_charging"))
        await agent.unpark()
        car.driving = True
        car.next_trip += 1
        return
    trip = car.trips[car.next_trip - 1]
    car.driving = False
    nxt = sim.next_departure(car.trips, at)
    await agent.park(wall_of(nxt) if nxt is not None else None)
    if trip.plug_in:
        await agent.apply(ScheduledChange(after_s=0, action="charge"))


def _print_rows(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="schedulable capacity by simulated hour")
    for col in (
        "hour",
        "parked",
        "schedulable",
        "schedulable_tops",
        "schedulable_kw",
        "leases",
        "preemptions",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(*(f"{r[c]:,.0f}" if isinstance(r[c], float) else str(r[c]) for c in r))
    Console().print(table)

"""`mh bench registry [--nodes N] [--replicas R] [--json FILE]`: heartbeats the registry
absorbs, and how long it takes to declare a silent car lost, at fleet sizes up to a million.

R registry replicas run as their own processes (`mh run node-registry`, the real service)
on one real NATS and share the fleet by partition (the partition table in JetStream KV).
The fleet is played by publisher processes (`macrohard.bench.heartbeats`), each a slice of
the N cars, heartbeating every interval spread evenly over it, on each car's own subject.

- `offered_per_s`: heartbeats the publishers actually sent per second (they report it).
- `heartbeats_per_s`: what the replicas counted per second, together, over the measured
  intervals (after one interval of warm-up), and per replica (`replica_<name>_per_s`);
  `absorbed_share`: that over `offered_per_s` (the fleet offers exactly nodes / interval,
  so at 1M cars the target is all of it, within the measuring window's edges).
- `loss_detect_s`: probe cars, registered in the log and spread over every replica's
  partitions, heartbeat and then go silent at the start of the measurement; for each,
  the time from its last heartbeat to its NodeLost event. The worst probe is reported
  (target: 3 intervals + at most 1 s), the mean beside it.
- `replica_<name>_cpu_cores`: each replica's CPU (from /proc) over the measured window,
  its CPU per heartbeat (`cpu_us_per_beat`: 1e6 / that is what one core of it absorbs, a
  figure that holds when the machine is shared) and its share of the heartbeats.
The other cars heartbeat without a registration: a replica tracks their liveness the same
way (that is the cost measured), without a million registrations in the log first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import msgspec
import nats
from nats.aio.client import Client as NATS

from macrohard.bench.report import report
from macrohard.bench.servers import add_server_args, bench_servers
from macrohard.contracts import PLATFORM_TENANT, envelope
from macrohard.contracts.fleet import (
    FLEET_STATS,
    PARTITIONS,
    FleetStats,
    Heartbeat,
    NodeRegistered,
    heartbeat_subject,
    partition_of,
)
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams
from macrohard.node_registry.public import intake_cost

TARGETS = {
    "heartbeats_per_s": ">= nodes / interval (>= 100,000 at 1M)",
    "loss_detect_s": "3 intervals + <= 1 s",
}
COST_NOTES = {
    "intake_per_message_us_per_beat": "nats-py parser, a dispatch per message (before)",
    "intake_batch_us_per_beat": "the registry's batch intake (after)",
}
PROBES_PER_REPLICA = 3
CARS_PER_PUBLISHER = 350_000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("registry", help="heartbeats/s absorbed and loss detection time")
    add_server_args(p)
    p.add_argument("--nodes", type=int, action="append", help="fleet size (repeatable)")
    p.add_argument("--replicas", type=int, default=1, help="registry replicas (processes)")
    p.add_argument("--interval", type=float, default=10.0, help="heartbeat interval, s")
    p.add_argument("--measure-intervals", type=float, default=2.0)
    p.add_argument(
        "--publishers", type=int, default=0, help="publisher processes (default: 1 per 350k cars)"
    )
    p.add_argument("--logs", type=Path, help="write each replica's log to DIR/<replica>.log")
    p.set_defaults(func=lambda args: asyncio.run(bench(args)))


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _stats(nc: NATS) -> FleetStats:
    reply = await nc.request(FLEET_STATS, b"", timeout=10)
    return msgspec.json.decode(reply.data, type=FleetStats)


async def all_stats(
    nc: NATS, replicas: int, timeout: float = 30.0, taken: dict[str, float] | None = None
) -> dict[str, FleetStats]:
    """Every replica's stats (each answers FLEET_STATS), by replica name; `taken`, when
    given, gets when each replica's figures were taken: when its reply arrived (a busy
    replica answers late because the request waited behind its work, and it counts when
    it answers), so that a rate is not skewed by how long it took to answer one sample
    and not the other."""
    inbox = nc.new_inbox()
    got: dict[str, FleetStats] = {}
    done = asyncio.Event()

    async def on_reply(msg: Any) -> None:
        stats = msgspec.json.decode(msg.data, type=FleetStats)
        got[stats.replica] = stats
        if taken is not None:
            taken[stats.replica] = time.monotonic()
        if len(got) >= replicas:
            done.set()

    sub = await nc.subscribe(inbox, cb=on_reply)
    try:
        await nc.publish(FLEET_STATS, b"", reply=inbox)
        with contextlib.suppress(TimeoutError):  # a replica too busy to answer: say so
            await asyncio.wait_for(done.wait(), timeout)
    finally:
        await sub.unsubscribe()
    return got


async def wait_registry(nc: NATS, timeout: float = 60) -> None:
    """Until the registry answers (it serves only once it has replayed the log)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await _stats(nc)
            return
        except (nats.errors.Error, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def wait_shared(nc: NATS, replicas: int, timeout: float = 90) -> dict[str, FleetStats]:
    """Until every replica answers and the partitions are all owned, shared out evenly."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            stats = await all_stats(nc, replicas, timeout=5.0)
            owned = [len(s.partitions) for s in stats.values()]
            if len(stats) == replicas and sum(owned) == PARTITIONS and max(owned) - min(owned) <= 1:
                return stats
        except (nats.errors.Error, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("registry replicas did not share the partitions")
        await asyncio.sleep(0.5)


def _probes(prefix: str, stats: dict[str, FleetStats]) -> dict[str, str]:
    """Probe car ids, PROBES_PER_REPLICA in each replica's partitions: probe -> replica."""
    owner = {p: name for name, s in stats.items() for p in s.partitions}
    wanted = {name: PROBES_PER_REPLICA for name in stats}
    probes: dict[str, str] = {}
    i = 0
    while any(wanted.values()):
        probe = f"{prefix}-probe-{i}"
        name = owner.get(partition_of(probe), "")
        if wanted.get(name, 0) > 0:
            probes[probe] = name
            wanted[name] -= 1
        i += 1
    return probes


async def _register(nc: NATS, node_id: str, interval: float) -> None:
    registered = NodeRegistered(
        node_id=node_id, owner_account="bench", chip="orin", tops=254, memory_gb=32,
        power_w=60, models=["minilm"], heartbeat_interval_s=interval,
    )  # fmt: skip
    env = envelope(registered, tenant=PLATFORM_TENANT, aggregate_id=node_id)
    await EventStore(nc).append([env], expected_version=None)


async def one_size(
    nc: NATS,
    nats_url: str,
    pids: dict[str, int],
    nodes: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    interval, replicas = args.interval, len(pids)
    prefix = f"sim{nodes}"
    stats = await wait_shared(nc, replicas)
    probes = _probes(prefix, stats)
    lost_at: dict[str, float] = {}
    false_losses: list[str] = []  # a car declared lost while it still heartbeats
    silent_from = float("inf")
    all_lost = asyncio.Event()

    async def on_lost(msg: Any) -> None:
        node_id, now = msg.subject.split(".")[3], time.monotonic()
        if node_id not in probes:
            return
        if now < silent_from:
            false_losses.append(node_id)
            return
        lost_at.setdefault(node_id, now)
        if all(p in lost_at for p in probes):
            all_lost.set()

    await nc.subscribe(f"ev.{PLATFORM_TENANT}.node.*.NodeLost", cb=on_lost)
    for probe in probes:
        await _register(nc, probe, interval)

    # The fleet: publisher processes, each a slice of the cars, for the whole run.
    measure_s = args.measure_intervals * interval
    run_s = interval + measure_s + 3 * interval + 2.0
    n_pub = args.publishers or max(1, -(-nodes // CARS_PER_PUBLISHER))
    bounds = [nodes * k // n_pub for k in range(n_pub + 1)]
    pubs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "macrohard.bench.heartbeats",
            nats_url,
            prefix,
            str(bounds[k]),
            str(bounds[k + 1]),
            str(interval),
            str(run_s),
            stdout=subprocess.PIPE,
        )
        for k in range(n_pub)
    ]
    for proc in pubs:
        assert proc.stdout is not None
        await proc.stdout.readline()  # "ready": its cars are made and it is connected
    encode = msgspec.json.Encoder().encode
    loop = asyncio.get_running_loop()
    started = loop.time()
    probe_last: dict[str, float] = {}
    seq = 0

    async def beat_probes() -> None:
        nonlocal seq
        seq += 1
        for probe in probes:
            await nc.publish(heartbeat_subject(probe), encode(Heartbeat(node_id=probe, seq=seq)))
            probe_last[probe] = time.monotonic()

    def sample() -> tuple[float, dict[str, float]]:
        return time.monotonic(), {name: _cpu_seconds(pid) for name, pid in pids.items()}

    # Warm-up: one interval, every car seen once; the probes heartbeat with the fleet.
    while loop.time() - started < interval:
        await beat_probes()
        await asyncio.sleep(min(interval / 4, 1.0))
    t0, cpu0 = sample()
    taken0: dict[str, float] = {}
    before = await all_stats(nc, replicas, taken=taken0)
    beats0 = {n: s.heartbeats for n, s in before.items()}
    silent_from = time.monotonic()  # the probes' drivers pull the modem: silence from here
    await asyncio.sleep(max(started + interval + measure_s - loop.time(), 0))
    t1, cpu1 = sample()
    taken1: dict[str, float] = {}
    after = await all_stats(nc, replicas, taken=taken1)
    beats1 = {n: s.heartbeats for n, s in after.items()}
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            all_lost.wait(), max(silent_from + 3 * interval + 5.0 - time.monotonic(), 0)
        )
    sent = elapsed = 0.0
    for proc in pubs:
        out, _ = await proc.communicate()
        fields = out.decode().split()
        sent += float(fields[1])
        elapsed = max(elapsed, float(fields[3]))
    span = t1 - t0
    answered = [n for n in pids if n in beats0 and n in beats1]
    total = sum(beats1[n] - beats0[n] for n in answered)
    # Each replica's rate over its own sampling instants; together, their sum.
    rate = {n: (beats1[n] - beats0[n]) / (taken1[n] - taken0[n]) for n in answered}
    detect = [lost_at[p] - probe_last[p] for p in probes if p in lost_at]
    row: dict[str, Any] = {
        "nodes": nodes,
        "replicas": replicas,
        "publishers": n_pub,
        "heartbeat_interval_s": interval,
        "offered_per_s": round(sent / elapsed, 1),
        "heartbeats_per_s": round(sum(rate.values()), 1),
        # Of what the fleet offered, what the replicas counted.
        "absorbed_share": round(sum(rate.values()) / (sent / elapsed), 4) if sent else None,
        "loss_detect_s": round(max(detect), 3) if len(detect) == len(probes) else None,
        "loss_detect_mean_s": round(sum(detect) / len(detect), 3) if detect else None,
        "probes_lost": f"{len(detect)}/{len(probes)}",
        "false_losses": len(false_losses),
    }
    for name in sorted(pids):
        if name not in before or name not in after:
            row[f"replica_{name}"] = "did not answer within 30 s (overloaded or disconnected)"
            continue
        delta = beats1[name] - beats0[name]
        row[f"replica_{name}_partitions"] = (
            f"{len(before[name].partitions)} -> {len(after[name].partitions)}"
        )
        row[f"replica_{name}_per_s"] = round(rate[name], 1)
        row[f"replica_{name}_cpu_cores"] = round((cpu1[name] - cpu0[name]) / span, 3)
        # CPU per heartbeat: what a core of this replica absorbs, whatever else shares it.
        row[f"replica_{name}_cpu_us_per_beat"] = (
            round((cpu1[name] - cpu0[name]) / delta * 1e6, 2) if delta else None
        )
        row[f"replica_{name}_share"] = round(delta / total, 3) if total else 0.0
    return row


def log_file(logs: Path | None, name: str) -> int | IO[bytes]:
    if logs is None:
        return subprocess.DEVNULL
    logs.mkdir(parents=True, exist_ok=True)
    return (logs / f"{name}.log").open("wb")  # the replica writes it until it exits


async def bench(args: argparse.Namespace) -> None:
    sizes = args.nodes or [10_000, 100_000]
    with bench_servers(args) as servers:
        nc = await nats.connect(servers.nats_url, pending_size=256 * 1024 * 1024)
        await ensure_streams(nc.jetstream())
        procs: dict[str, asyncio.subprocess.Process] = {}
        try:
            for r in range(args.replicas):
                name = f"r{r}"
                env = {
                    **os.environ,
                    "MH_NATS_URL": servers.nats_url,
                    "MH_DATABASE_URL": servers.database_url,
                    "MH_NODE_REGISTRY_HEARTBEAT_INTERVAL_S": str(args.interval),
                    "MH_NODE_REGISTRY_REPLICA": name,
                }
                # Its own process: each replica gets a core of its own, as in production.
                procs[name] = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "macrohard.cli.main", "run", "node-registry",
                    env=env, stdout=subprocess.DEVNULL, stderr=log_file(args.logs, name),
                )  # fmt: skip
            await wait_registry(nc, timeout=300)  # a loaded machine starts them slowly
            pids = {name: p.pid for name, p in procs.items()}
            rows = [await one_size(nc, servers.nats_url, pids, n, args) for n in sizes]
        finally:
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            await nc.close()
        # Measured after the fleet runs (not to take their CPU), in this run, on this machine.
        cost = await intake_cost(EventStore(nc))
    for row in rows:
        report(
            f"registry at {row['nodes']:,} nodes, {row['replicas']} replica(s)", row, None, TARGETS
        )
    report("replica intake, CPU per heartbeat, same bytes side by side", cost, None, COST_NOTES)
    if args.json_path:
        args.json_path.write_text(json.dumps({"runs": rows, "intake": cost}, indent=2) + "\n")

"""`mh bench registry [--nodes N] [--json FILE]`: heartbeats the registry absorbs, and how
long it takes to declare a silent node lost, at 10,000 and 100,000 simulated nodes.

The registry runs as its own process (`mh run node-registry`, the real service) and this
process plays the fleet: N nodes heartbeating every interval, spread evenly over it, on
core NATS. One probe node is registered in the log and then goes silent; `loss_detect_s`
is the time from its last heartbeat to the NodeLost event (target: within 3 intervals plus
the registry's bucket resolution). `heartbeats_per_s` is what the registry counted per
second at the steady fleet rate (N / interval); `max_heartbeats_per_s` is what it absorbed
when flooded, the head-room. The other N-1 nodes heartbeat without a registration: the
registry tracks their liveness the same way (that is the cost measured), without N
registrations in the log first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import msgspec
import nats
from nats.aio.client import Client as NATS

from macrohard.bench.report import report
from macrohard.bench.servers import add_server_args, bench_servers
from macrohard.contracts import PLATFORM_TENANT, envelope
from macrohard.contracts.fleet import (
    FLEET_STATS,
    FleetStats,
    Heartbeat,
    NodeRegistered,
    heartbeat_subject,
)
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams

TARGETS = {
    "heartbeats_per_s": ">= nodes / interval",
    "loss_detect_s": "3 intervals + <= 1 s",
}
TICK_S = 0.1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("registry", help="heartbeats/s absorbed and loss detection time")
    add_server_args(p)
    p.add_argument("--nodes", type=int, action="append", help="fleet size (repeatable)")
    p.add_argument("--interval", type=float, default=10.0, help="heartbeat interval, s")
    p.add_argument("--measure-intervals", type=float, default=2.0)
    p.set_defaults(func=lambda args: asyncio.run(bench(args)))


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _stats(nc: NATS) -> FleetStats:
    reply = await nc.request(FLEET_STATS, b"", timeout=10)
    return msgspec.json.decode(reply.data, type=FleetStats)


async def wait_registry(nc: NATS, timeout: float = 60) -> None:
    """Until the registry answers (it serves only once it has replayed the log)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await _stats(nc)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def one_size(
    nc: NATS, registry_pid: int, nodes: int, interval: float, measure_intervals: float
) -> dict[str, Any]:
    prefix = f"sim{nodes}"
    probe = f"{prefix}-probe"
    await EventStore(nc).append(
        [
            envelope(
                NodeRegistered(
                    node_id=probe,
                    owner_account="bench",
                    chip="orin",
                    tops=254,
                    memory_gb=32,
                    power_w=60,
                    models=["minilm"],
                    heartbeat_interval_s=interval,
                ),
                tenant=PLATFORM_TENANT,
                aggregate_id=probe,
            )
        ],
        expected_version=None,
    )
    lost_at: list[float] = []

    async def on_lost(_msg: Any) -> None:
        lost_at.append(time.monotonic())

    await nc.subscribe(f"ev.{PLATFORM_TENANT}.node.{probe}.NodeLost", cb=on_lost)
    encode = msgspec.json.Encoder().encode
    ids = [probe] + [f"{prefix}-{i}" for i in range(nodes - 1)]
    per_tick = max(1, round(nodes * TICK_S / interval))
    seq = 0
    probe_silent = False
    probe_last_beat = 0.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    measure_from = started + interval  # one interval of warm-up: every node seen once
    measure_to = measure_from + measure_intervals * interval
    first: tuple[float, int, float] | None = None
    last: tuple[float, int, float] | None = None
    cursor = 0
    tick = 0
    while True:
        now = loop.time()
        if first is None and now >= measure_from:
            first = (time.monotonic(), (await _stats(nc)).heartbeats, _cpu_seconds(registry_pid))
            probe_silent = True  # the probe's driver pulls the modem: silence from here
        if last is None and now >= measure_to:
            last = (time.monotonic(), (await _stats(nc)).heartbeats, _cpu_seconds(registry_pid))
        if last is not None and (lost_at or now > measure_to + 4 * interval):
            break
        seq += 1
        for _ in range(per_tick):
            node_id = ids[cursor]
            cursor = (cursor + 1) % len(ids)
            if node_id == probe:
                if probe_silent:
                    continue
                probe_last_beat = time.monotonic()
            beat = encode(Heartbeat(node_id=node_id, seq=seq))
            await nc.publish(heartbeat_subject(node_id), beat)
        tick += 1
        await asyncio.sleep(max(started + tick * TICK_S - loop.time(), 0))
    assert first is not None and last is not None
    elapsed = last[0] - first[0]
    steady = (last[1] - first[1]) / elapsed
    cpu = (last[2] - first[2]) / elapsed
    flood = await _flood(nc, ids, registry_pid)
    return {
        "nodes": nodes,
        "heartbeat_interval_s": interval,
        "offered_per_s": round(nodes / interval, 1),
        "heartbeats_per_s": round(steady, 1),
        "registry_cpu_cores": round(cpu, 3),
        "max_heartbeats_per_s": round(flood, 1),
        "loss_detect_s": round(lost_at[0] - probe_last_beat, 3) if lost_at else None,
    }


async def _flood(nc: NATS, ids: list[str], registry_pid: int, seconds: float = 3.0) -> float:
    """Publish heartbeats as fast as we can for a few seconds; what did the registry count?"""
    encode = msgspec.json.Encoder().encode
    payloads = [(heartbeat_subject(i), encode(Heartbeat(node_id=i, seq=0))) for i in ids[1:5001]]
    before = (await _stats(nc)).heartbeats
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < seconds:
        for subject, data in payloads:
            await nc.publish(subject, data)
        n += len(payloads)
        await nc.flush()
    # Let the registry drain what is queued, then count.
    await asyncio.sleep(1.0)
    after = (await _stats(nc)).heartbeats
    elapsed = time.monotonic() - t0
    return (after - before) / elapsed


async def bench(args: argparse.Namespace) -> None:
    sizes = args.nodes or [10_000, 100_000]
    with bench_servers(args) as servers:
        nc = await nats.connect(servers.nats_url, pending_size=256 * 1024 * 1024)
        await ensure_streams(nc.jetstream())
        env = {
            **os.environ,
            "MH_NATS_URL": servers.nats_url,
            "MH_DATABASE_URL": servers.database_url,
            "MH_NODE_REGISTRY_HEARTBEAT_INTERVAL_S": str(args.interval),
        }
        # Its own process: the registry gets a core of its own, as it would in production.
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "macrohard.cli.main", "run", "node-registry",
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await wait_registry(nc)
            rows = [
                await one_size(nc, proc.pid, n, args.interval, args.measure_intervals)
                for n in sizes
            ]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            await nc.close()
    for row in rows:
        report(f"registry at {row['nodes']:,} nodes", row, None, TARGETS)
    if args.json_path:
        args.json_path.write_text(json.dumps({"runs": rows}, indent=2) + "\n")

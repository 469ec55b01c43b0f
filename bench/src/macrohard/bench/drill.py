"""`mh drill [--tasks 100] [--json FILE]`: a chaos drill that checks nothing is lost or repeated.

It starts the platform on this machine (embedded NATS and PostgreSQL, two replicas of the
gateway, planner, actuator and billing, the node registry, two cars), onboards a tenant and
submits `--tasks` sign-up tasks on a local web app whose own server records every submit.
While they run it kill -9s a replica of every service in turn, NATS, a car, and PostgreSQL
(each comes back under the supervisor). Then it waits and checks three sources that must
agree: the log (every accepted task has a terminal event), the site (what really arrived),
and the read models (`mh replay --verify` rebuilds them into a scratch database and diffs).

Keys: tasks, accepted, completed, failed_by_infrastructure (failed for a platform fault, not
the page or the goal), lost (accepted but never stored), stuck (stored, no terminal event by
the end), false_completions (completed but the site lacks the right values), effects_repeated
(a site effect received twice), double_billed, rebuild_equal, kills, tasks_per_min.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats

from macrohard.bench.drill_site import DrillSite, expected_for
from macrohard.bench.report import report
from macrohard.contracts.agent import InferenceCompleted
from macrohard.contracts.browser import ActionExecuted
from macrohard.contracts.tasks import TaskCompleted, TaskFailed, TaskSubmitted
from macrohard.devkit.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from macrohard.devkit.readiness import wait_cars_parked, wait_ready
from macrohard.devkit.supervisor import ProcessSpec, Supervisor, keep_serving
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams
from macrohard.gateway.public import ensure_master_key

ADMIN = "mh_admin_drill"
REPLICATED = ("gateway", "planner", "actuator", "billing")
# Kill order: every service, a NATS node, a car, PostgreSQL; then round again.
VICTIMS = (
    "gateway", "planner", "actuator", "billing", "node-registry", "nats", "car", "postgres",
)  # fmt: skip
# A failure for one of these reasons is the platform's fault, not the page's or the goal's.
INFRASTRUCTURE = (
    "planner backend error",
    "no node could run",
    "interrupted by an actuator crash",
    "budget exhausted",
    "dead-letter",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("drill", help="chaos drill: kill -9 every service while tasks run")
    p.add_argument("--tasks", type=int, default=100)
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--every", type=float, default=2.0, help="seconds between submissions")
    p.add_argument("--kill-every", type=float, default=30.0, help="seconds between kills")
    p.add_argument(
        "--in-flight",
        type=int,
        default=8,
        help="most tasks running at once (the cars' lease slots; more only queue for a car)",
    )
    p.add_argument("--cars", type=int, default=2)
    p.add_argument(
        "--wait",
        type=float,
        default=2400.0,
        help="seconds to wait for the tasks (also each task's car_wait_s)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", type=Path, help="keep the platform's data here")
    p.set_defaults(func=lambda args: asyncio.run(drill(args)))


@dataclass
class Platform:
    data_dir: Path
    nats: EmbeddedNats
    postgres: EmbeddedPostgres
    supervisor: Supervisor
    gateways: list[str]
    cars: int
    keepers: list[asyncio.Task[None]] = field(default_factory=list)


def _specs(
    data_dir: Path, nats_url: str, dsn: str, gateways: list[int], cars: int
) -> list[ProcessSpec]:
    common = {
        "MH_NATS_URL": nats_url,
        "MH_DATABASE_URL": dsn,
        "MH_DATA_DIR": str(data_dir),
        "MH_LOCAL_TEST_MODE": "1",
    }
    key = ensure_master_key(data_dir)
    run = [sys.executable, "-m", "macrohard.cli.main"]
    specs = [ProcessSpec("node-registry", [*run, "run", "node-registry"], dict(common))]
    for name in REPLICATED:
        for i in (1, 2):
            env = dict(common)
            if name in ("gateway", "actuator"):
                env["MH_SECRETS_KEY"] = key
            if name == "gateway":
                env["MH_ADMIN_TOKEN"] = ADMIN
                env["MH_GATEWAY_HTTP_PORT"] = str(gateways[i - 1])
            specs.append(ProcessSpec(f"{name}-{i}", [*run, "run", name], env))
    for n in range(1, cars + 1):
        specs.append(ProcessSpec(f"car-{n}", [*run, "node", "--id", f"car-{n}"], dict(common)))
    return specs


async def start_platform(data_dir: Path, cars: int) -> Platform:
    nats_server = EmbeddedNats(data_dir / "nats", port=free_port(), log_file=data_dir / "nats.log")
    nats_server.start()
    pg = EmbeddedPostgres(data_dir / "pg", port=free_port(), log_file=data_dir / "pg.log")
    pg.start()
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream())
    await nc.close()
    ports = [free_port(), free_port()]
    # Services log to a file: the drill's own output is its report.
    log = (data_dir / "services.log").open("a")
    supervisor = Supervisor(color=False, output=log)
    supervisor.start(_specs(data_dir, nats_server.url, pg.dsn, ports, cars))
    platform = Platform(
        data_dir, nats_server, pg, supervisor, [f"http://127.0.0.1:{p}" for p in ports], cars
    )
    platform.keepers = [
        asyncio.create_task(keep_serving("nats", nats_server, log)),
        asyncio.create_task(keep_serving("postgres", pg, log)),
    ]
    ready = await asyncio.gather(
        *(wait_ready(g + "/readyz", 180) for g in platform.gateways),
        wait_cars_parked(nats_server.url, cars, 240),
    )
    if not all(ready):
        await stop_platform(platform)
        raise SystemExit(f"the platform did not get ready (see {data_dir}/services.log)")
    return platform


async def stop_platform(platform: Platform) -> None:
    await platform.supervisor.stop()
    for keeper in platform.keepers:
        keeper.cancel()
    await asyncio.gather(*platform.keepers, return_exceptions=True)
    platform.postgres.stop()
    platform.nats.stop()


def kill(platform: Platform, victim: str, rng: random.Random) -> str:
    """kill -9 one process of `victim`; returns what was killed ('' if it was down)."""
    if victim == "nats":
        proc = platform.nats.proc
    elif victim == "postgres":
        proc = platform.postgres.proc
    else:
        name = victim
        if victim in REPLICATED:
            name = f"{victim}-{rng.choice((1, 2))}"
        elif victim == "car":
            name = f"car-{rng.randint(1, platform.cars)}"
        pid = platform.supervisor.pid(name)
        if pid is None:
            return ""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # the whole group: a car's Triton, a Chromium
        return name
    if proc is None or proc.poll() is not None:
        return ""
    proc.kill()
    return victim


async def _submit(
    http: httpx.AsyncClient, gateways: list[str], key: str, index: int, body: dict[str, Any]
) -> str | None:
    """Submit until a gateway accepts it (the same Idempotency-Key every time): its task id."""
    deadline = time.monotonic() + 180
    attempt = 0
    while time.monotonic() < deadline:
        gateway = gateways[(index + attempt) % len(gateways)]
        attempt += 1
        with contextlib.suppress(httpx.HTTPError):
            r = await http.post(
                f"{gateway}/v1/tasks",
                json=body,
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"drill-{index}"},
            )
            if r.status_code == 202:
                return str(r.json()["task_id"])
            if r.status_code not in (409, 429, 500, 502, 503):
                raise SystemExit(f"task {index} refused: {r.status_code} {r.text}")
        await asyncio.sleep(0.5)
    return None


async def _onboard(http: httpx.AsyncClient, gateways: list[str]) -> tuple[str, str]:
    """(API key, tenant id) of the drill's tenant."""
    for _ in range(60):
        for gateway in gateways:
            with contextlib.suppress(httpx.HTTPError):
                r = await http.post(
                    f"{gateway}/v1/tenants",
                    headers={"Authorization": f"Bearer {ADMIN}"},
                    json={"name": "Drill", "allowed_domains": ["127.0.0.1"],
                          "monthly_budget": "100000.00"},
                )  # fmt: skip
                if r.status_code == 201:
                    return str(r.json()["api_key"]), str(r.json()["tenant_id"])
        await asyncio.sleep(1)
    raise SystemExit("could not onboard the drill's tenant")


@dataclass
class TaskOutcome:
    status: str = "unknown"  # unknown (no TaskSubmitted), running, completed, failed, cancelled
    reason: str = ""
    ended_at: float | None = None


async def _outcomes(store: EventStore, tenant: str, ids: dict[int, str]) -> dict[int, TaskOutcome]:
    out: dict[int, TaskOutcome] = {}
    for index, task_id in list(ids.items()):  # submissions still add to it
        events = [r.payload for r in await store.read_aggregate(tenant, "task", task_id)]
        o = TaskOutcome()
        if any(isinstance(e, TaskSubmitted) for e in events):
            o.status = "running"
        for e in events:
            if isinstance(e, TaskCompleted):
                o.status, o.reason = "completed", e.result
            elif isinstance(e, TaskFailed):
                o.status, o.reason = "failed", e.reason
            elif type(e).__name__ == "TaskCancelled":
                o.status = "cancelled"
        out[index] = o
    return out


async def _ended(store: EventStore, tenant: str, ids: dict[int, str]) -> int:
    outcomes = await _outcomes(store, tenant, ids)
    return sum(1 for o in outcomes.values() if o.status not in ("unknown", "running"))


async def _double_billed(store: EventStore, dsn: str, tenant: str, ids: dict[int, str]) -> int:
    """Real work billed more than once: two billed ActionExecuted for one intent, or two
    billed InferenceCompleted for one step of a task."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        billed = {
            str(r["event_id"])
            for r in await pool.fetch(
                # A verification call is recorded (its car is paid) but charged to nobody.
                """SELECT DISTINCT event_id FROM billing.usage_records
                   WHERE tenant_id = $1 AND meter NOT LIKE 'verification:%'""",
                tenant,
            )
        }
    finally:
        await pool.close()
    twice = 0
    for task_id in ids.values():
        seen: Counter[tuple[str, str]] = Counter()
        for agg in ("browser", "task"):
            for rec in await store.read_aggregate(tenant, agg, task_id):
                if rec.envelope.id not in billed:
                    continue
                p = rec.payload
                if isinstance(p, ActionExecuted):
                    seen[("action", p.intent_event_id)] += 1
                elif isinstance(p, InferenceCompleted):
                    seen[("inference", f"{p.step}:{p.model}")] += 1
        twice += sum(n - 1 for n in seen.values() if n > 1)
    return twice


def _rebuild_equal(nats_url: str, dsn: str) -> bool:
    """`mh replay --verify`, as an operator runs it: every projection rebuilt and diffed."""
    done = subprocess.run(
        [sys.executable, "-m", "macrohard.cli.main", "replay", "--verify", "--json",
         "--nats", nats_url, "--database", dsn],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return done.returncode == 0


async def drill(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    with contextlib.ExitStack() as stack:
        if args.data_dir:
            data_dir = args.data_dir.absolute()
            data_dir.mkdir(parents=True, exist_ok=True)
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mh-drill-")))
        print(f"starting the platform in {data_dir} ...", flush=True)
        platform = await start_platform(data_dir, args.cars)
        site = DrillSite()
        stack.enter_context(site)
        try:
            results = await _run(platform, site, args, rng)
        finally:
            await stop_platform(platform)
    targets = {k: "0" for k in ("failed_by_infrastructure", "lost", "stuck", "false_completions",
                                "effects_repeated", "double_billed")}  # fmt: skip
    targets |= {"accepted": f"= {args.tasks}", "rebuild_equal": "True", "kills": ">= 10"}
    report("mh drill", results, args.json, targets)
    ok = all(results[k] == 0 for k in targets if targets[k] == "0")
    return 0 if ok and results["rebuild_equal"] and results["accepted"] == args.tasks else 1


async def _run(
    platform: Platform, site: DrillSite, args: argparse.Namespace, rng: random.Random
) -> dict[str, Any]:
    kills: list[str] = []
    ids: dict[int, str] = {}
    async with httpx.AsyncClient(timeout=15.0, trust_env=False) as http:
        key, tenant = await _onboard(http, platform.gateways)
        started = time.monotonic()
        submitting = True

        async def chaos() -> None:
            turn = 0
            while submitting or len(kills) < 10:
                await asyncio.sleep(args.kill_every)
                victim = VICTIMS[turn % len(VICTIMS)]
                turn += 1
                killed = kill(platform, victim, rng)
                if killed:
                    kills.append(killed)
                    print(f"  {time.monotonic() - started:6.1f}s kill -9 {killed}", flush=True)

        async def one(index: int) -> None:
            want = expected_for(index)
            # The drill submits faster than two cars' leases turn over: its tasks queue for a
            # car, as a tenant who chose a long car_wait_s would.
            body = {
                "goal": want.goal,
                "start_url": site.form_url(str(index)),
                "max_steps": 15,
                "car_wait_s": args.wait,
            }
            task_id = await _submit(http, platform.gateways, key, index, body)
            if task_id is not None:
                ids[index] = task_id

        nc = await nats.connect(
            platform.nats.url, max_reconnect_attempts=-1, error_cb=_quiet, reconnected_cb=_quiet
        )
        store = EventStore(nc)
        try:
            chaos_task = asyncio.create_task(chaos())
            submissions: list[asyncio.Task[None]] = []
            for index in range(args.tasks):
                # A tenant with a concurrency limit: past the cars' slots tasks only queue.
                while True:  # polled: task ends are in the log, not pushed to the drill
                    if len(submissions) - await _ended(store, tenant, ids) < args.in_flight:
                        break
                    await asyncio.sleep(1)
                submissions.append(asyncio.create_task(one(index)))
                await asyncio.sleep(args.every)
            await asyncio.gather(*submissions)
            submitting = False
            print(f"  {len(ids)} of {args.tasks} tasks accepted; waiting for them", flush=True)
            deadline = time.monotonic() + args.wait
            last_end = started
            while True:
                outcomes = await _outcomes(store, tenant, ids)
                open_ = [i for i, o in outcomes.items() if o.status in ("unknown", "running")]
                if not open_ or time.monotonic() > deadline:
                    break
                last_end = time.monotonic()
                await asyncio.sleep(2)
            await _cancel(chaos_task)
            results = _judge(args.tasks, ids, outcomes, site, kills, started, last_end)
            results["double_billed"] = await _double_billed(
                store, platform.postgres.dsn, tenant, ids
            )
        finally:
            await store.close()
            await nc.close()
    results["rebuild_equal"] = await asyncio.to_thread(
        _rebuild_equal, platform.nats.url, platform.postgres.dsn
    )
    order = ["tasks", "accepted", "completed", "failed_by_infrastructure", "lost", "stuck",
             "false_completions", "effects_repeated", "double_billed", "rebuild_equal", "kills",
             "tasks_per_min"]  # fmt: skip
    return {k: results[k] for k in order} | {"killed": kills, "failures": results["failures"]}


async def _quiet(*_: object) -> None:
    """NATS going away is part of the drill: its reconnects are not worth a traceback."""


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _judge(
    tasks: int,
    ids: dict[int, str],
    outcomes: dict[int, TaskOutcome],
    site: DrillSite,
    kills: list[str],
    started: float,
    ended: float,
) -> dict[str, Any]:
    completed = [i for i, o in outcomes.items() if o.status == "completed"]
    failed = {i: o.reason for i, o in outcomes.items() if o.status == "failed"}
    infra = [i for i, why in failed.items() if any(k in why for k in INFRASTRUCTURE)]
    false = [
        i
        for i in completed
        if not any(expected_for(i).matches(s) for s in site.submits.get(str(i), []))
    ]
    repeated = sum(len(s) - 1 for s in site.submits.values() if len(s) > 1)
    minutes = max(ended - started, 1.0) / 60
    return {
        "tasks": tasks,
        "accepted": len(ids),
        "completed": len(completed),
        "failed_by_infrastructure": len(infra),
        "lost": sum(1 for o in outcomes.values() if o.status == "unknown"),
        "stuck": sum(1 for o in outcomes.values() if o.status == "running"),
        "false_completions": len(false),
        "effects_repeated": repeated,
        "kills": len(kills),
        "tasks_per_min": round(len(completed) / minutes, 2),
        "failures": {str(i): why for i, why in failed.items()},
    }

"""`mh drill [--tasks 100] [--json FILE]`: a chaos drill that checks nothing is lost or repeated.

It starts the production topology as an operator does (`mh up --secure --cluster 3
--replicas 2`: a 3-node JetStream cluster with R3 streams, every service and car its own NATS
identity, two replicas of every service, two cars, PostgreSQL), onboards a tenant and submits
`--tasks` sign-up tasks on a local web app whose own server records every submit. On a
schedule over the whole run it kill -9s a random replica of every service in turn, one NATS
node, a car mid-inference and PostgreSQL (`mh up` brings each back), and it keeps killing
until every task has ended and at least `--min-kills` kills are done. Then it checks three
sources that must agree: the log (every accepted task has a terminal event), the site (what
really arrived), and the read models (billing's usage records; `mh replay --verify`
rebuilds every projection into a scratch database and diffs).

Keys: tasks, accepted, completed, failed_by_infrastructure (failed for a platform fault, not
the page or the goal), lost (accepted but never stored), stuck (stored, no terminal event by
the end), false_completions (completed but the site lacks the right values), effects_repeated
(a site effect received twice), double_billed (the tenant charged twice for one step's work),
rebuild_equal, kills, tasks_per_min.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import nats.errors

from macrohard.bench.drill_platform import Chaos, Platform, Ports, start_platform, stop_platform
from macrohard.bench.drill_rebuild import rebuild_verdict
from macrohard.bench.drill_site import DrillSite, expected_for
from macrohard.bench.report import report
from macrohard.contracts.agent import InferenceCompleted
from macrohard.contracts.browser import ActionExecuted
from macrohard.contracts.tasks import TaskCompleted, TaskFailed, TaskSubmitted
from macrohard.devkit.readiness import wait_ready
from macrohard.eventlog.service import nats_servers
from macrohard.eventlog.store import EventStore

# A failure for one of these reasons is the platform's fault, not the page's or the goal's.
INFRASTRUCTURE = (
    "planner backend error",
    "no node could run",
    "whether it reached the site is unknown",
    "budget exhausted",
    "dead-letter",
    # The drill's own pages are benign: one that did not answer (its renderer starved of
    # CPU) or could not be read is the platform's failure too.
    "stopped responding",
    "could not be observed",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("drill", help="chaos drill: kill -9 every service while tasks run")
    p.add_argument("--tasks", type=int, default=100)
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--every", type=float, default=1.0, help="seconds between submissions")
    p.add_argument("--kill-every", type=float, default=20.0, help="seconds between kills")
    p.add_argument("--min-kills", type=int, default=10, help="kill at least this often")
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
    p.add_argument("--http-port", type=int, help="first gateway port (default: free ports)")
    p.add_argument("--nats-port", type=int, help="first of the 3 NATS nodes' ports")
    p.add_argument("--pg-port", type=int)
    p.add_argument("--metrics-port", type=int, help="first of 12 metrics ports")
    p.set_defaults(func=lambda args: asyncio.run(drill(args)))


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


async def _onboard(http: httpx.AsyncClient, platform: Platform) -> tuple[str, str]:
    """(API key, tenant id) of the drill's tenant."""
    for _ in range(60):
        for gateway in platform.gateways:
            with contextlib.suppress(httpx.HTTPError):
                r = await http.post(
                    f"{gateway}/v1/tenants",
                    headers={"Authorization": f"Bearer {platform.admin_token}"},
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


class Outcomes:
    """Each accepted task's state in the log; a task that has ended is not read again."""

    def __init__(self, store: EventStore, tenant: str) -> None:
        self.store, self.tenant = store, tenant
        self.ended: dict[int, TaskOutcome] = {}

    async def read(self, ids: dict[int, str]) -> dict[int, TaskOutcome]:
        out = dict(self.ended)
        for index, task_id in list(ids.items()):  # submissions still add to it
            if index in out:
                continue
            try:
                records = await self.store.read_aggregate(self.tenant, "task", task_id)
            except nats.errors.Error:
                # The drill kills NATS nodes too: a read that met one is read again at the
                # next poll (the drill only observes; what it reads is the platform's log).
                out[index] = TaskOutcome(status="running")
                continue
            events = [r.payload for r in records]
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
            if o.status not in ("unknown", "running"):
                self.ended[index] = o
        return out

    async def open_count(self, ids: dict[int, str]) -> int:
        outcomes = await self.read(ids)
        return sum(1 for o in outcomes.values() if o.status in ("unknown", "running"))


async def _double_billed(store: EventStore, dsn: str, tenant: str, ids: dict[int, str]) -> int:
    """The tenant charged twice for the same work, read from billing's read model: two
    charged usage records of ActionExecuted for one intent, or of InferenceCompleted for the
    same step of a task and the same model."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        charged = {
            str(r["event_id"])
            for r in await pool.fetch(
                # What the tenant's invoice lines sum (billing's line_groups): a verification
                # call is recorded (its car is paid) but charged to nobody.
                """SELECT DISTINCT event_id FROM billing.usage_records
                   WHERE tenant_id = $1 AND amount_micros > 0
                     AND meter NOT LIKE 'verification:%'""",
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
                if rec.envelope.id not in charged:
                    continue
                p = rec.payload
                if isinstance(p, ActionExecuted):
                    seen[("action", p.intent_event_id)] += 1
                elif isinstance(p, InferenceCompleted):
                    seen[("inference", f"{p.step}:{p.model}")] += 1
        twice += sum(n - 1 for n in seen.values() if n > 1)
    return twice


async def drill(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    with contextlib.ExitStack() as stack:
        if args.data_dir:
            data_dir = args.data_dir.absolute()
            data_dir.mkdir(parents=True, exist_ok=True)
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mh-drill-")))
        ports = Ports.pick(args.http_port, args.nats_port, args.pg_port, args.metrics_port)
        print(
            f"starting mh up --secure --cluster 3 --replicas 2 in {data_dir}"
            f" (gateways on {ports.http}, {ports.http + 1}) ...",
            flush=True,
        )
        platform = await start_platform(data_dir, ports, args.cars)
        site = DrillSite()
        stack.enter_context(site)
        try:
            results = await _run(platform, site, args, Chaos(platform, rng))
        finally:
            await stop_platform(platform)
    targets = {k: "0" for k in ("failed_by_infrastructure", "lost", "stuck", "false_completions",
                                "effects_repeated", "double_billed")}  # fmt: skip
    targets |= {
        "accepted": f"= {args.tasks}",
        "rebuild_equal": "True",
        "kills": f">= {args.min_kills}",
    }
    report("mh drill", results, args.json, targets)
    ok = all(results[k] == 0 for k in targets if targets[k] == "0")
    ok = ok and results["rebuild_equal"] and results["kills"] >= args.min_kills
    return 0 if ok and results["accepted"] == args.tasks else 1


async def _run(
    platform: Platform, site: DrillSite, args: argparse.Namespace, chaos: Chaos
) -> dict[str, Any]:
    ids: dict[int, str] = {}
    all_ended = asyncio.Event()
    async with httpx.AsyncClient(timeout=15.0, trust_env=False) as http:
        key, tenant = await _onboard(http, platform)
        started = time.monotonic()

        async def kill_on_schedule() -> None:
            """Kills spread over the drill's duration, not tied to tasks: until every task
            has ended and at least --min-kills are done."""
            while not (all_ended.is_set() and len(chaos.kills) >= args.min_kills):
                await asyncio.sleep(args.kill_every)
                victim = chaos.next_victim()
                killed = await chaos.kill(victim)
                when = f"  {time.monotonic() - started:6.1f}s"
                print(
                    f"{when} kill -9 {killed}" if killed else f"{when} {victim}: down", flush=True
                )

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
            nats_servers(platform.admin_url),
            max_reconnect_attempts=-1,
            error_cb=_quiet,
            reconnected_cb=_quiet,
        )
        store = EventStore(nc)
        outcomes = Outcomes(store, tenant)
        try:
            chaos_task = asyncio.create_task(kill_on_schedule())
            submissions: list[asyncio.Task[None]] = []
            for index in range(args.tasks):
                # A tenant with a concurrency limit: past the cars' slots tasks only queue.
                while True:  # polled: task ends are in the log, not pushed to the drill
                    running = len(submissions) - len(ids) + await outcomes.open_count(ids)
                    if running < args.in_flight:
                        break
                    await asyncio.sleep(0.5)
                submissions.append(asyncio.create_task(one(index)))
                await asyncio.sleep(args.every)
            await asyncio.gather(*submissions)
            print(f"  {len(ids)} of {args.tasks} tasks accepted; waiting for them", flush=True)
            deadline = time.monotonic() + args.wait
            last_end = started
            while True:
                seen = await outcomes.read(ids)
                open_ = [i for i, o in seen.items() if o.status in ("unknown", "running")]
                if not open_ or time.monotonic() > deadline:
                    break
                last_end = time.monotonic()
                await asyncio.sleep(1)
            last_end = time.monotonic() if not open_ else last_end
            all_ended.set()
            await asyncio.wait_for(chaos_task, args.kill_every * (args.min_kills + 1) + 60)
            results = _judge(args.tasks, ids, seen, site, chaos.kills, started, last_end)
            # The last kill's victim is back before the read models are judged.
            await asyncio.gather(*(wait_ready(g + "/readyz", 120) for g in platform.gateways))
            results["double_billed"] = await _double_billed(store, platform.dsn, tenant, ids)
        finally:
            await store.close()
            await nc.close()
    rebuild = await asyncio.to_thread(rebuild_verdict, platform.admin_url, platform.dsn)
    results["rebuild_equal"] = rebuild.equal
    for error in rebuild.errors:
        print(f"  mh replay --verify gave no verdict: {error}", flush=True)
    if not rebuild.equal:
        print("  rebuilt read models differ from the live ones:", flush=True)
        for line in rebuild.differences:
            print(f"    {line}", flush=True)
    order = ["tasks", "accepted", "completed", "failed_by_infrastructure", "lost", "stuck",
             "false_completions", "effects_repeated", "double_billed", "rebuild_equal", "kills",
             "tasks_per_min"]  # fmt: skip
    return {k: results[k] for k in order} | {
        "killed": chaos.kills,
        "failures": results["failures"],
        "false_completed": results["false_completed"],
        "repeated": results["repeated"],
        "rebuild_differences": rebuild.differences,
        "rebuild_errors": rebuild.errors,
    }


async def _quiet(*_: object) -> None:
    """NATS going away is part of the drill: its reconnects are not worth a traceback."""


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
        # For a post-mortem (`mh task replay <id> --data-dir ...`): which tasks, by id.
        "false_completed": {str(i): ids[i] for i in false},
        "repeated": {t: len(s) for t, s in site.submits.items() if len(s) > 1},
    }

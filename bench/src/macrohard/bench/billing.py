"""`mh bench billing`: usage events rated into PostgreSQL per second, against the plain
event-index projection rebuilt from the same log on the same servers in the same run.

- projection_per_s: the kernel's EventIndexProjection (one COPY per batch, no logic)
- rated_per_s: billing's projection rebuilt from sequence 1: every usage event metered,
  rated against its tenant's graduated tiers, budget-checked and written as a usage record
- ratio_vs_projection: rated_per_s / projection_per_s
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import nats
from nats.aio.client import Client as NATS

from macrohard.bench.report import report
from macrohard.bench.servers import add_server_args, bench_servers
from macrohard.contracts.envelope import Envelope
from macrohard.eventlog.projection import Projection, ProjectionRunner

TARGETS = {"rated_per_s": ">= 20,000", "ratio_vs_projection": ""}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("billing", help="usage events rated per second vs a plain projection")
    add_server_args(p)
    p.add_argument("--events", type=int, default=200_000, help="usage events in the log")
    p.add_argument("--tenants", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=5000)
    p.set_defaults(func=lambda args: asyncio.run(bench(args)))


def workload(total: int, tenants: int) -> list[Envelope]:
    """Tasks as the platform runs them: start, steps (intent, action, page + screenshot,
    inference on one of ten cars), end. About `total` events."""
    from macrohard.contracts import envelope
    from macrohard.contracts.agent import InferenceCompleted, Intent, IntentEmitted
    from macrohard.contracts.browser import ActionExecuted, PageObservation, PageObserved
    from macrohard.contracts.tasks import TaskCompleted, TaskStarted
    from macrohard.contracts.tenancy import TenantOnboarded

    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    plans = ("payg", "team", "enterprise")
    out: list[Envelope] = [
        envelope(
            TenantOnboarded(tenant_id=f"t{i}", name=f"t{i}", plan=plans[i % 3],
                            allowed_domains=[], monthly_budget="0"),
            tenant=f"t{i}", aggregate_id=f"t{i}", occurred_at=t0,
        )
        for i in range(tenants)
    ]  # fmt: skip
    steps = 8
    tasks = max(1, total // (steps * 4 + 2))
    obs = PageObservation(url="https://e.com/", title="t", elements=[], screenshot_sha256="a" * 64)
    for k in range(tasks):
        tenant, task = f"t{k % tenants}", f"k{k}"
        when = t0 + timedelta(seconds=k * 7)
        out.append(envelope(TaskStarted(task_id=task, backend="local"), tenant=tenant,
                            aggregate_id=task, occurred_at=when))  # fmt: skip
        for n in range(steps):
            at = when + timedelta(seconds=n)
            out += [
                envelope(IntentEmitted(task_id=task, step=n, intent=Intent(action="click")),
                         tenant=tenant, aggregate_id=task, occurred_at=at),
                envelope(ActionExecuted(task_id=task, step=n, intent_event_id="i",
                                        action="click", ok=True),
                         tenant=tenant, aggregate_id=f"s{k}", occurred_at=at),
                envelope(PageObserved(task_id=task, step=n, observation=obs),
                         tenant=tenant, aggregate_id=f"s{k}", occurred_at=at),
                envelope(InferenceCompleted(task_id=task, step=n, model="planner-small",
                                            node_id=f"car-{k % 10}", owner_account=f"o{k % 4}",
                                            lease_id="l", compute_ms=85.25, input_bytes=900,
                                            output_bytes=40, energy_wh=0.0031),
                         tenant=tenant, aggregate_id=task, occurred_at=at),
            ]  # fmt: skip
        end = when + timedelta(seconds=steps)
        out.append(envelope(TaskCompleted(task_id=task, steps=steps), tenant=tenant,
                            aggregate_id=task, occurred_at=end))  # fmt: skip
    return out


async def publish(nc: NATS, events: list[Envelope]) -> None:
    from macrohard.contracts import REGISTRY
    from macrohard.contracts.subjects import subject_of

    js = nc.jetstream(publish_async_max_pending=4000)
    for env in events:
        await js.publish_async(subject_of(env), REGISTRY.encode(env))
    await js.publish_async_completed()


async def rebuild_rate(nc: NATS, pool: asyncpg.Pool, projection: Projection, batch: int) -> float:
    """Seconds to rebuild `projection` from sequence 1."""
    runner = ProjectionRunner(nc, pool, projection, batch_size=batch)
    await runner.setup()
    await runner.rebuild()
    started = time.perf_counter()
    await runner.catch_up()
    return time.perf_counter() - started


async def bench(args: argparse.Namespace) -> int:
    from macrohard.billing.public import BillingProjection
    from macrohard.eventlog.index import EventIndexProjection
    from macrohard.eventlog.store import EventStore
    from macrohard.eventlog.streams import ensure_streams

    events = workload(args.events, args.tenants)
    with bench_servers(args) as servers:
        nc = await nats.connect(servers.nats_url)
        await ensure_streams(nc.jetstream())
        head_before = await EventStore(nc).stream_head()
        if head_before:
            print(f"note: the stream already held {head_before} events; both rebuilds read all")
        await publish(nc, events)
        total = await EventStore(nc).stream_head()
        pool = await asyncpg.create_pool(servers.database_url, min_size=2, max_size=4)
        try:
            plain_s = await rebuild_rate(nc, pool, EventIndexProjection(), args.batch_size)
            rated_s = await rebuild_rate(nc, pool, BillingProjection(), args.batch_size)
            async with pool.acquire() as conn:
                records = await conn.fetchval("SELECT count(*) FROM billing.usage_records")
                rated = await conn.fetchval(
                    "SELECT count(DISTINCT event_id) FROM billing.usage_records"
                )
                charged = await conn.fetchval("SELECT sum(amount_micros) FROM billing.meter_totals")
        finally:
            await pool.close()
            await nc.close()
    # Every event but the onboardings is usage-bearing; all but the task starts (which open
    # a task-minute meter) leave a usage record of their own.
    usage_events = len(events) - args.tenants
    starts = sum(1 for e in events if type(e.payload).__name__ == "TaskStarted")
    if rated != usage_events - starts:
        raise RuntimeError(f"rated {rated} events with records, expected {usage_events - starts}")
    projection_per_s = total / plain_s
    rated_per_s = usage_events / rated_s
    results = {
        "events": total,
        "usage_events": usage_events,
        "seconds_plain": round(plain_s, 3),
        "seconds_rated": round(rated_s, 3),
        "usage_records": records,
        "charged_total_micros": int(charged or 0),
        "projection_per_s": round(projection_per_s, 1),
        "rated_per_s": round(rated_per_s, 1),
        "ratio_vs_projection": round(rated_per_s / projection_per_s, 3),
    }
    report("mh bench billing", results, args.json_path, TARGETS)
    return 0

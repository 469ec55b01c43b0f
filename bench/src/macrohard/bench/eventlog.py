"""`mh bench eventlog`: the kernel against raw nats-py, on one NATS server, in one run.

- raw_publish_per_s: nats-py JetStream publish_async of the same encoded events, no headers
- append_per_s: EventStore.append with concurrency + de-dup headers, 1,000 aggregates
- raw_read_per_s: nats-py ordered consumer reading the whole stream
- rebuild_per_s: the event-index projection rebuilt from sequence 1 into PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
import nats
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig, DeliverPolicy

from macrohard.bench.report import report
from macrohard.bench.servers import add_server_args, bench_servers
from macrohard.contracts import REGISTRY, envelope
from macrohard.contracts.browser import ActionExecuted
from macrohard.contracts.envelope import Envelope
from macrohard.contracts.subjects import EVENTS_STREAM, subject_of
from macrohard.eventlog.index import EventIndexProjection
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams

TARGETS = {"append_ratio": ">= 0.8", "rebuild_ratio": ">= 0.5", "rebuild_per_s": ">= 15,000"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eventlog", help="append/read/rebuild throughput vs raw nats-py")
    add_server_args(p)
    p.add_argument(
        "--events",
        type=int,
        default=200_000,
        help="events in the log for the read and rebuild (half raw, half appended)",
    )
    p.add_argument("--aggregates", type=int, default=1000)
    p.set_defaults(func=lambda args: asyncio.run(bench(args)))


def make_events(tenant: str, aggregates: int, per_aggregate: int) -> list[list[Envelope]]:
    return [
        [
            envelope(
                ActionExecuted(
                    task_id=f"a{a}",
                    step=i,
                    intent_event_id="0",
                    action="click",
                    ok=True,
                    duration_ms=12.5,
                ),
                tenant=tenant,
                aggregate_id=f"a{a}",
            )
            for i in range(per_aggregate)
        ]
        for a in range(aggregates)
    ]


async def raw_publish(nc: NATS, events: list[list[Envelope]]) -> float:
    js = nc.jetstream(publish_async_max_pending=4000)
    payloads = [(subject_of(e), REGISTRY.encode(e)) for agg in events for e in agg]
    started = time.perf_counter()
    for subject, data in payloads:
        await js.publish_async(subject, data)
    await js.publish_async_completed()
    return len(payloads) / (time.perf_counter() - started)


async def append_all(store: EventStore, events: list[list[Envelope]]) -> float:
    async def one_aggregate(evs: list[Envelope]) -> None:
        version = 0
        for env in evs:  # one event per append: the common case for a command handler
            version = (await store.append([env], expected_version=version)).version

    started = time.perf_counter()
    await asyncio.gather(*(one_aggregate(evs) for evs in events))
    return sum(len(e) for e in events) / (time.perf_counter() - started)


async def raw_read(nc: NATS, total: int) -> float:
    js = nc.jetstream()
    done = asyncio.Event()
    count = 0

    async def on_msg(msg: object) -> None:
        nonlocal count
        count += 1
        if count >= total:
            done.set()

    started = time.perf_counter()
    sub = await js.subscribe(
        "ev.>",
        stream=EVENTS_STREAM,
        ordered_consumer=True,
        cb=on_msg,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        pending_msgs_limit=-1,
        pending_bytes_limit=-1,
    )
    await done.wait()
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    return total / elapsed


async def rebuild(nc: NATS, database_url: str, total: int) -> float:
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=4)
    try:
        runner = ProjectionRunner(nc, pool, EventIndexProjection(), batch_size=5000)
        await runner.setup()
        await runner.rebuild()
        started = time.perf_counter()
        await runner.catch_up()
        elapsed = time.perf_counter() - started
        async with pool.acquire() as conn:
            rows = await conn.fetchval("SELECT count(*) FROM eventlog.event_index")
        if rows != total:
            raise RuntimeError(f"rebuild produced {rows} rows, expected {total}")
        return total / elapsed
    finally:
        await pool.close()


async def bench(args: argparse.Namespace) -> int:
    half = args.events // 2
    per_aggregate = max(1, half // args.aggregates)
    with bench_servers(args) as servers:
        nc = await nats.connect(servers.nats_url)
        await ensure_streams(nc.jetstream())
        head_before = await EventStore(nc).stream_head()
        raw_events = make_events("benchraw", args.aggregates, per_aggregate)
        app_events = make_events("benchapp", args.aggregates, per_aggregate)
        raw_publish_per_s = await raw_publish(nc, raw_events)
        append_per_s = await append_all(EventStore(nc), app_events)
        total = await EventStore(nc).stream_head()
        if head_before:
            print(f"note: the stream already held {head_before} events; reading all {total}")
        raw_read_per_s = await raw_read(nc, total)
        rebuild_per_s = await rebuild(nc, servers.database_url, total)
        await nc.close()
    results = {
        "events": total,
        "aggregates": args.aggregates,
        "raw_publish_per_s": round(raw_publish_per_s, 1),
        "append_per_s": round(append_per_s, 1),
        "append_ratio": round(append_per_s / raw_publish_per_s, 3),
        "raw_read_per_s": round(raw_read_per_s, 1),
        "rebuild_per_s": round(rebuild_per_s, 1),
        "rebuild_ratio": round(rebuild_per_s / raw_read_per_s, 3),
    }
    report("mh bench eventlog", results, args.json_path, TARGETS)
    return 0

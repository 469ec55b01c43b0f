"""`mh replay <projection> [--to SEQ]` and `mh replay --verify`.

A rebuild drops the read model and replays the log into it (with a progress bar and the
rate). `--verify` touches nothing live: it rebuilds into a temporary database and diffs
(see shadow.py), exiting 1 on any difference, so it can run in CI or a cron job.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import zlib

import asyncpg
from nats.aio.client import Client as NATS

from macrohard.cli import readout
from macrohard.cli.platform import add_platform_args
from macrohard.devkit.projections import catalogue
from macrohard.eventlog import logview
from macrohard.eventlog.projection import Projection, ProjectionRunner
from macrohard.eventlog.rebuild import Bounded, rewind_checkpoint
from macrohard.eventlog.shadow import verify_all


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("replay", help="rebuild a projection from the log, or --verify all")
    p.add_argument("projection", nargs="?", help="projection name (see --list)")
    p.add_argument("--to", type=int, help="stop after this stream sequence (time travel)")
    p.add_argument("--verify", action="store_true", help="rebuild into a shadow and diff")
    p.add_argument("--list", action="store_true", help="list the known projections")
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="TABLE.COLUMN",
        help="column to leave out of --verify (e.g. one written from now())",
    )
    p.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="MODULE:ATTR",
        help="also know this projection (one not registered by a service yet)",
    )
    p.add_argument("--json", action="store_true")
    add_platform_args(p)
    p.set_defaults(func=lambda args: asyncio.run(replay(args)))


async def replay(args: argparse.Namespace) -> int:
    known = catalogue(args.extra)
    if args.list:
        for name, proj in known.items():
            print(f"{name}  {' '.join(proj.subjects)}")
        return 0
    if args.projection and args.projection not in known:
        print(f"unknown projection {args.projection!r}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    if not args.verify and not args.projection:
        print("name a projection, or pass --verify (or --list)", file=sys.stderr)
        return 2
    async with readout.connect(args) as session:
        if not session.platform.database_url:
            print("replay needs the database: --database DSN or MH_DATABASE_URL", file=sys.stderr)
            return 2
        if args.verify:
            chosen = [known[args.projection]] if args.projection else list(known.values())
            return await _verify(session.nc, session.platform.database_url, chosen, args)
        return await _rebuild(session, known[args.projection], args)


async def _verify(nc: NATS, dsn: str, chosen: list[Projection], args: argparse.Namespace) -> int:
    verdicts = await verify_all(nc, dsn, chosen, set(args.ignore))
    total = sum(v.differences for v in verdicts)
    if args.json:
        readout.print_json({"differences": total, "projections": [v.to_json() for v in verdicts]})
        return 1 if total else 0
    for v in verdicts:
        if v.skipped:
            print(f"- {v.projection}: skipped, {v.skipped}")
            continue
        rows = sum(t.live_rows for t in v.tables)
        status = "ok" if not v.differences else f"{v.differences} difference(s)"
        print(
            f"{'✔' if not v.differences else '✘'} {v.projection} @#{v.position}: {status} "
            f"({len(v.tables)} table(s), {rows} live row(s))"
        )
        for t in v.tables:
            for line in t.differences:
                print(f"    {line}")
            if t.count > len(t.differences):
                print(f"    ... and {t.count - len(t.differences)} more in {t.table}")
    print(f"verify: {total} difference(s)")
    return 1 if total else 0


async def _rebuild(
    session: readout.Session, projection: Projection, args: argparse.Namespace
) -> int:
    pool = await asyncpg.create_pool(session.platform.database_url, min_size=2, max_size=4)
    try:
        bounded = Bounded(projection, args.to)
        # A service running this projection holds its advisory lock for as long as it runs;
        # waiting on it would hang, and rebuilding under it would fight it. Refuse instead.
        async with pool.acquire() as conn:
            key = zlib.crc32(bounded.name.encode())
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                print(
                    f"{bounded.name} is being run by a live service: stop it first", file=sys.stderr
                )
                return 1
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
        head = await logview.stream_head(session.nc)
        target = min(args.to, head) if args.to else head
        runner = ProjectionRunner(session.nc, pool, bounded)
        await runner.rebuild()
        started = time.perf_counter()
        job = asyncio.create_task(runner.run(live=False, until=target or None))
        await _progress(job, runner, target, args)
        await job
        if args.to is not None:
            await rewind_checkpoint(pool, bounded.name, args.to)
        elapsed = time.perf_counter() - started
        rate = bounded.applied / elapsed if elapsed > 0 else 0.0
        summary = {
            "projection": bounded.name,
            "events": bounded.applied,
            "position": min(runner.position, args.to) if args.to else runner.position,
            "seconds": round(elapsed, 3),
            "events_per_s": round(rate, 1),
        }
        if args.json:
            readout.print_json(summary)
        else:
            print(
                f"rebuilt {bounded.name}: {bounded.applied} events up to "
                f"#{summary['position']} in {elapsed:.2f} s ({rate:,.0f} events/s)"
            )
        return 0
    finally:
        await pool.close()


async def _progress(
    job: asyncio.Task[None], runner: ProjectionRunner, target: int, args: argparse.Namespace
) -> None:
    """A progress bar over stream sequences, with the rate, on a terminal."""
    if not readout.wants_rich(args) or target == 0:
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    started = time.perf_counter()
    with Progress(*columns) as bar:
        task = bar.add_task(runner.name, total=target, rate="")
        while not job.done():
            elapsed = max(time.perf_counter() - started, 1e-6)
            rate = f"{runner.position / elapsed:,.0f} seq/s"
            bar.update(task, completed=min(runner.position, target), rate=rate)
            await asyncio.sleep(0.1)
        bar.update(task, completed=target)

"""`mh state <aggregate> <id> [--at SEQ|TIME]`: an aggregate folded up to a point in the log.

The cut follows the event store's `load(up_to_seq=, up_to_time=)`: by stream sequence, or
by the time the log stored the event (the only clock every event shares).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Any

from macrohard.cli import readout
from macrohard.cli.platform import add_platform_args
from macrohard.eventlog import logview
from macrohard.eventlog.generic_fold import generic_fold
from macrohard.eventlog.logview import LogEvent


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("state", help="an aggregate folded up to a point (time travel)")
    p.add_argument("aggregate", help="aggregate type: task, browser, tenant, node, ...")
    p.add_argument("id", help="aggregate id")
    p.add_argument("--tenant", help="tenant (default: any; _platform for nodes)")
    p.add_argument("--at", help="stop at this stream sequence, or time (ISO, or 10m ago)")
    p.add_argument("--json", action="store_true")
    add_platform_args(p)
    p.set_defaults(func=lambda args: asyncio.run(state(args)))


def cut(events: list[LogEvent], at: int | datetime | None) -> list[LogEvent]:
    if at is None:
        return events
    if isinstance(at, int):
        return [e for e in events if e.sequence <= at]
    return [e for e in events if e.stored_at <= at]


def fold_state(events: list[LogEvent]) -> dict[str, Any]:
    """The generic fold: no service's domain is loaded to show an aggregate."""
    return generic_fold(events).to_json()


async def state(args: argparse.Namespace) -> int:
    at = logview.parse_point(args.at) if args.at else None
    filt = logview.subject_filter(args.tenant, f"{args.aggregate}/{args.id}")
    async with readout.connect(args) as session:
        stop = at if isinstance(at, int) else None
        events = cut([e async for e in logview.scan(session.nc, filt, stop=stop)], at)
    if not events:
        print(f"no events for {args.aggregate}/{args.id} up to {args.at or 'now'}", file=sys.stderr)
        return 1
    folded = fold_state(events)
    rows: list[dict[str, Any]] = [
        {
            "sequence": e.sequence,
            "stored_at": e.stored_at.isoformat(),
            "type": e.type,
            "fields": readout.key_fields(e.payload),
        }
        for e in events
    ]
    if args.json:
        readout.print_json(
            {"aggregate": f"{args.aggregate}/{args.id}", "at": args.at, "history": rows, **folded}
        )
        return 0
    title = f"{args.aggregate}/{args.id} at {args.at or 'head'}: version #{folded['version']}"
    if readout.wants_rich(args):
        from rich.console import Console
        from rich.json import JSON
        from rich.table import Table

        console = Console()
        table = Table(title=title, header_style="bold")
        for col in ("seq", "stored", "type", "fields"):
            table.add_column(col)
        for r in rows:
            table.add_row(f"#{r['sequence']}", r["stored_at"], r["type"], r["fields"])
        console.print(table)
        console.print(JSON.from_data(folded["fields"], default=str))
        return 0
    print(title)
    for line in readout.iter_lines(
        [[f"#{r['sequence']}", r["stored_at"], r["type"], r["fields"]] for r in rows]
    ):
        print("  " + line)
    print("fields (latest value of each):")
    shown = folded["fields"]
    print(json.dumps(shown, indent=2, default=str, sort_keys=True))
    return 0

"""`mh events tail|show`: what is in the log, one line per event, or one event in full."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime

from nats.aio.client import Client as NATS

from macrohard.cli import readout
from macrohard.cli.platform import add_platform_args
from macrohard.eventlog import logview
from macrohard.eventlog.logview import LogEvent

TYPE_COLOURS = {"Failed": "red", "Completed": "green", "Submitted": "cyan", "Lost": "red"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("events", help="look at the event log: tail, show")
    esub = p.add_subparsers(dest="events_command", required=True)
    t = esub.add_parser("tail", help="one line per event (sequence, time, subject, type, fields)")
    t.add_argument("--tenant", help="only this tenant (e.g. acme, _platform)")
    t.add_argument("--aggregate", help="aggregate type, or type/id (task, task/t-1)")
    t.add_argument("--type", dest="event_type", help="only this event type (TaskSubmitted)")
    t.add_argument("--since", help="from this time: 10m, 2h, 1d ago or an ISO time")
    t.add_argument("-n", "--lines", type=int, default=20, help="last N events (without --since)")
    t.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    t.add_argument("--json", action="store_true", help="one JSON object per line")
    add_platform_args(t)
    t.set_defaults(func=lambda args: asyncio.run(tail(args)))
    s = esub.add_parser("show", help="one event's full envelope, by sequence or event id")
    s.add_argument("ref", help="stream sequence (digits) or event id (UUID)")
    s.add_argument("--json", action="store_true")
    add_platform_args(s)
    s.set_defaults(func=lambda args: asyncio.run(show(args)))


async def last_matching(nc: NATS, filt: str, count: int) -> list[LogEvent]:
    """The last `count` events on `filt`: scan backwards in growing windows from the head,
    so a tail of a long log reads only its end."""
    hi = await logview.stream_head(nc)
    window = max(count * 4, 500)
    found: list[LogEvent] = []
    while hi >= 1 and len(found) < count:
        lo = max(1, hi - window + 1)
        found = [e async for e in logview.scan(nc, filt, start=lo, stop=hi)] + found
        hi = lo - 1
        window *= 2
    return found[-count:] if count > 0 else []


def _row(e: LogEvent) -> list[str]:
    when = e.occurred_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [f"#{e.sequence}", when, e.subject, e.type, readout.key_fields(e.payload)]


class _Printer:
    """Lines to a terminal (coloured), a pipe (aligned text) or a script (JSON lines)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.json = bool(args.json)
        self.rich = readout.wants_rich(args)
        if self.rich:
            from rich.console import Console

            self.console = Console()

    def batch(self, events: list[LogEvent]) -> None:
        if self.json:
            for e in events:
                sys.stdout.write(json.dumps(e.to_json(), default=str) + "\n")
        elif self.rich:
            from rich.table import Table

            table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
            for col in ("seq", "occurred", "subject", "type", "fields"):
                table.add_column(col, overflow="fold" if col == "fields" else "ellipsis")
            for e in events:
                r = _row(e)
                colour = next((c for k, c in TYPE_COLOURS.items() if e.type.endswith(k)), "")
                table.add_row(
                    f"[dim]{r[0]}[/]", r[1], f"[blue]{r[2]}[/]", f"[bold {colour}]{r[3]}[/]", r[4]
                )
            self.console.print(table)
        else:
            for line in readout.iter_lines([_row(e) for e in events]):
                print(line)
        sys.stdout.flush()


async def tail(args: argparse.Namespace) -> int:
    filt = logview.subject_filter(args.tenant, args.aggregate, args.event_type)
    out = _Printer(args)
    async with readout.connect(args) as session:
        nc = session.nc
        if args.since:
            since: datetime = logview.parse_since(args.since)
            events = [e async for e in logview.scan(nc, filt, start_time=since)]
        else:
            events = await last_matching(nc, filt, args.lines)
        out.batch(events)
        if not args.follow:
            return 0
        last = events[-1].sequence if events else await logview.stream_head(nc)
        # Polling direct get keeps `--follow` free of server-side consumers to clean up.
        while True:
            fresh = [e async for e in logview.scan(nc, filt, start=last + 1)]
            if fresh:
                out.batch(fresh)
                last = fresh[-1].sequence
            await asyncio.sleep(0.5)


async def show(args: argparse.Namespace) -> int:
    async with readout.connect(args, database=True) as session:
        if args.ref.isdigit():
            event = await logview.read_one(session.nc, int(args.ref))
        else:
            event = await logview.find_event_id(session, args.ref)
    if event is None:
        print(f"no event {args.ref} in the log", file=sys.stderr)
        return 1
    if readout.wants_rich(args):
        from rich.console import Console
        from rich.json import JSON
        from rich.panel import Panel

        title = f"#{event.sequence} {event.subject}  stored {event.stored_at.isoformat()}"
        Console().print(Panel(JSON.from_data(event.envelope, default=str), title=title))
    else:
        readout.print_json(event.to_json())
    return 0

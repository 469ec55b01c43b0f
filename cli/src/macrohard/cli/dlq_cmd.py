"""`mh dlq list|show|retry`: dead-lettered messages, their errors, and sending them back.

Retry without a duplicate in the log. A dead letter was acknowledged on EVENTS long ago, so
it cannot be redelivered there, and re-appending it to EVENTS would store the event twice
(and re-run every *other* consumer of it). Instead `retry` hands the original bytes to a
running replica of the consumer that failed (kernel: `eventlog.deadletter.retry_dead_letter`,
core NATS request-reply on `mh.dlq.retry.<consumer>` in the consumer's queue group), which
runs the same handler once more and answers with the outcome. The DLQ entry is deleted only
when the handler succeeded, so the operator sees at once whether the fix worked; with no
replica running the command says so and nothing changes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec
from nats.errors import NoRespondersError

from macrohard.cli import readout
from macrohard.cli.platform import add_platform_args
from macrohard.eventlog.deadletter import (
    DeadLetter,
    RetryFailed,
    list_dead_letters,
    read_dead_letter,
    retry_dead_letter,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dlq", help="dead-lettered messages: list, show, retry")
    dsub = p.add_subparsers(dest="dlq_command", required=True)
    ls = dsub.add_parser("list", help="every dead letter, oldest first")
    ls.add_argument("--consumer", default="*", help="only this consumer (durable name)")
    sh = dsub.add_parser("show", help="one dead letter with its error and message")
    sh.add_argument("dlq_seq", type=int, help="the DLQ sequence (first column of list)")
    rt = dsub.add_parser("retry", help="run dead letters through their consumer's handler again")
    rt.add_argument("dlq_seq", type=int, nargs="*", help="DLQ sequences to retry")
    rt.add_argument("--all", action="store_true", help="every dead letter (of --consumer)")
    rt.add_argument("--consumer", default="*")
    rt.add_argument("--timeout", type=float, default=30.0, help="seconds per handler run")
    for cmd, func in ((ls, dlq_list), (sh, dlq_show), (rt, dlq_retry)):
        cmd.add_argument("--json", action="store_true")
        add_platform_args(cmd)
        cmd.set_defaults(func=lambda args, f=func: asyncio.run(f(args)))


def _letter_json(d: DeadLetter, *, data: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dlq_sequence": d.dlq_sequence,
        "consumer": d.consumer,
        "subject": d.subject,
        "sequence": d.sequence,
        "deliveries": d.deliveries,
        "error": d.error,
    }
    if data:
        try:
            out["message"] = msgspec.json.decode(d.data)
        except msgspec.DecodeError:
            out["message_raw"] = d.data.decode("utf-8", "replace")
    return out


async def dlq_list(args: argparse.Namespace) -> int:
    async with readout.connect(args) as session:
        letters = await list_dead_letters(session.nc, args.consumer)
    if args.json:
        readout.print_json([_letter_json(d) for d in letters])
        return 0
    rows = [["dlq#", "consumer", "event", "tries", "error"]] + [
        [
            f"{d.dlq_sequence}",
            d.consumer,
            f"{d.subject}#{d.sequence}",
            str(d.deliveries),
            d.error[:100],
        ]
        for d in letters
    ]
    if readout.wants_rich(args):
        from rich.console import Console
        from rich.table import Table

        table = Table(*rows[0], title=f"{len(letters)} dead letter(s)", header_style="bold")
        for r in rows[1:]:
            table.add_row(*r[:-1], f"[red]{r[-1]}[/]")
        Console().print(table)
    else:
        for line in readout.iter_lines(rows):
            print(line)
    return 0


async def dlq_show(args: argparse.Namespace) -> int:
    async with readout.connect(args) as session:
        letter = await read_dead_letter(session.nc, args.dlq_seq)
    if letter is None:
        print(f"no dead letter #{args.dlq_seq}", file=sys.stderr)
        return 1
    stored = letter.time.isoformat().replace("+00:00", "Z") if letter.time else ""
    body = {**_letter_json(letter, data=True), "dead_lettered_at": stored}
    if readout.wants_rich(args):
        from rich.console import Console
        from rich.json import JSON
        from rich.panel import Panel

        console = Console()
        console.print(f"[bold]dead letter #{letter.dlq_sequence}[/] of [cyan]{letter.consumer}[/]")
        console.print(f"[red]{letter.error}[/]")
        console.print(Panel(JSON.from_data(body, default=str)))
    else:
        readout.print_json(body)
    return 0


async def dlq_retry(args: argparse.Namespace) -> int:
    if not args.dlq_seq and not args.all:
        print("name DLQ sequences to retry, or pass --all", file=sys.stderr)
        return 2
    results: list[dict[str, Any]] = []
    async with readout.connect(args) as session:
        if args.all:
            letters = await list_dead_letters(session.nc, args.consumer)
        else:
            letters = []
            for seq in args.dlq_seq:
                found = await read_dead_letter(session.nc, seq)
                if found is None:
                    print(f"no dead letter #{seq}", file=sys.stderr)
                    return 1
                letters.append(found)
        for letter in letters:
            outcome: dict[str, Any] = {**_letter_json(letter), "retried": True, "error": None}
            try:
                await retry_dead_letter(session.nc, letter, timeout=args.timeout)
            except RetryFailed as exc:
                outcome.update(retried=False, error=exc.error)
            except NoRespondersError:
                outcome.update(retried=False, error=f"no running replica of {letter.consumer}")
            results.append(outcome)
    failed = [r for r in results if not r["retried"]]
    if args.json:
        readout.print_json(results)
    else:
        for r in results:
            verdict = "handled, removed from the DLQ" if r["retried"] else f"failed: {r['error']}"
            print(f"dlq#{r['dlq_sequence']} {r['subject']}#{r['sequence']} -> {verdict}")
        print(f"{len(results) - len(failed)} of {len(results)} dead letter(s) handled")
    return 1 if failed else 0

"""`mh dlq list|show|retry`: dead-lettered messages, their errors, and sending them back.

Retry without a duplicate in the log. A dead letter was acknowledged on EVENTS long ago, so
it cannot be redelivered there, and re-appending it to EVENTS would store the event twice
(and re-run every *other* consumer of it). Instead the message goes to its own consumer
only, through the RETRY stream:

    subject  retry.<consumer>.<original stream sequence>
    data     the original message, byte for byte
    headers  Mh-Dlq-Subject / Mh-Dlq-Sequence (where it sits in EVENTS),
             Mh-Retry-Of (the DLQ sequence), Nats-Msg-Id retry:<consumer>:<seq>:<dlq seq>

RETRY is a work-queue stream: a message is gone once its consumer acknowledges it. The
kernel side (reported, not in this module): `eventlog.consumer.subscribe` also binds a
durable `<durable>-retry` on RETRY filtered to `retry.<durable>.>`, decodes the message as
`RecordedEvent(sequence=Mh-Dlq-Sequence, subject=Mh-Dlq-Subject)` and hands it to the same
handler with the same retry/dead-letter policy. Handlers are idempotent (derived event
ids), so a retry after a partial first attempt appends nothing twice. The DLQ entry is
removed once the retry is stored; if it fails again the consumer dead-letters it again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from macrohard.cli import logview
from macrohard.cli.platform import add_platform_args
from macrohard.contracts.subjects import DLQ_STREAM, check_token
from macrohard.eventlog.deadletter import (
    H_CONSUMER,
    H_DELIVERIES,
    H_ERROR,
    H_SEQUENCE,
    H_SUBJECT,
    DeadLetter,
    list_dead_letters,
)

RETRY_STREAM = "RETRY"
RETRY_PREFIX = "retry"
H_RETRY_OF = "Mh-Retry-Of"


def retry_subject(consumer: str, sequence: int) -> str:
    return f"{RETRY_PREFIX}.{check_token('consumer', consumer)}.{sequence}"


def retry_stream_config(replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=RETRY_STREAM,
        subjects=[f"{RETRY_PREFIX}.>"],
        storage=StorageType.FILE,
        retention=RetentionPolicy.WORK_QUEUE,
        num_replicas=replicas,
        duplicate_window=3600.0,
    )


async def ensure_retry_stream(nc: NATS, replicas: int = 1) -> None:
    js = nc.jetstream()
    try:
        await js.stream_info(RETRY_STREAM)
    except NotFoundError:
        await js.add_stream(retry_stream_config(replicas))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dlq", help="dead-lettered messages: list, show, retry")
    dsub = p.add_subparsers(dest="dlq_command", required=True)
    ls = dsub.add_parser("list", help="every dead letter, oldest first")
    ls.add_argument("--consumer", default="*", help="only this consumer (durable name)")
    sh = dsub.add_parser("show", help="one dead letter with its error and message")
    sh.add_argument("dlq_seq", type=int, help="the DLQ sequence (first column of list)")
    rt = dsub.add_parser("retry", help="send dead letters back to their consumer only")
    rt.add_argument("dlq_seq", type=int, nargs="*", help="DLQ sequences to retry")
    rt.add_argument("--all", action="store_true", help="every dead letter (of --consumer)")
    rt.add_argument("--consumer", default="*")
    rt.add_argument("--keep", action="store_true", help="leave the entries in the DLQ")
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
    async with logview.connect(args) as session:
        letters = await list_dead_letters(session.nc, args.consumer)
    if args.json:
        logview.print_json([_letter_json(d) for d in letters])
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
    if logview.wants_rich(args):
        from rich.console import Console
        from rich.table import Table

        table = Table(*rows[0], title=f"{len(letters)} dead letter(s)", header_style="bold")
        for r in rows[1:]:
            table.add_row(*r[:-1], f"[red]{r[-1]}[/]")
        Console().print(table)
    else:
        for line in logview.iter_lines(rows):
            print(line)
    return 0


async def _one(nc: NATS, dlq_seq: int) -> tuple[DeadLetter, str] | None:
    """A DLQ message by its sequence, with the time the DLQ stored it."""
    req = msgspec.json.encode({"seq": dlq_seq})
    msg = await nc.request(f"$JS.API.DIRECT.GET.{DLQ_STREAM}", req, 5.0)
    h = dict(msg.headers or {})
    if h.get("Status"):
        return None
    letter = DeadLetter(
        dlq_sequence=dlq_seq,
        consumer=h.get(H_CONSUMER, ""),
        subject=h.get(H_SUBJECT, ""),
        sequence=int(h.get(H_SEQUENCE, "0")),
        deliveries=int(h.get(H_DELIVERIES, "0")),
        error=h.get(H_ERROR, ""),
        data=msg.data,
        time=None,
    )
    return letter, h.get("Nats-Time-Stamp", "")


async def dlq_show(args: argparse.Namespace) -> int:
    async with logview.connect(args) as session:
        found = await _one(session.nc, args.dlq_seq)
    if found is None:
        print(f"no dead letter #{args.dlq_seq}", file=sys.stderr)
        return 1
    letter, stored = found
    body = {**_letter_json(letter, data=True), "dead_lettered_at": stored}
    if logview.wants_rich(args):
        from rich.console import Console
        from rich.json import JSON
        from rich.panel import Panel

        console = Console()
        console.print(f"[bold]dead letter #{letter.dlq_sequence}[/] of [cyan]{letter.consumer}[/]")
        console.print(f"[red]{letter.error}[/]")
        console.print(Panel(JSON.from_data(body, default=str)))
    else:
        logview.print_json(body)
    return 0


async def retry_letter(nc: NATS, letter: DeadLetter, *, keep: bool = False) -> int:
    """Store the letter on its consumer's retry subject; return the RETRY sequence."""
    headers = {
        "Nats-Msg-Id": f"retry:{letter.consumer}:{letter.sequence}:{letter.dlq_sequence}",
        H_SUBJECT: letter.subject,
        H_SEQUENCE: str(letter.sequence),
        H_RETRY_OF: str(letter.dlq_sequence),
    }
    ack = await nc.jetstream().publish(
        retry_subject(letter.consumer, letter.sequence), letter.data, headers=headers
    )
    if not keep:
        await nc.jetstream().delete_msg(DLQ_STREAM, letter.dlq_sequence)
    return ack.seq


async def dlq_retry(args: argparse.Namespace) -> int:
    if not args.dlq_seq and not args.all:
        print("name DLQ sequences to retry, or pass --all", file=sys.stderr)
        return 2
    results: list[dict[str, Any]] = []
    async with logview.connect(args) as session:
        await ensure_retry_stream(session.nc)
        if args.all:
            letters = await list_dead_letters(session.nc, args.consumer)
        else:
            letters = []
            for seq in args.dlq_seq:
                found = await _one(session.nc, seq)
                if found is None:
                    print(f"no dead letter #{seq}", file=sys.stderr)
                    return 1
                letters.append(found[0])
        for letter in letters:
            retry_seq = await retry_letter(session.nc, letter, keep=args.keep)
            results.append({**_letter_json(letter), "retry_sequence": retry_seq})
    if args.json:
        logview.print_json(results)
    else:
        for r in results:
            print(
                f"dlq#{r['dlq_sequence']} -> {retry_subject(r['consumer'], r['sequence'])} "
                f"(RETRY #{r['retry_sequence']})"
            )
        print(f"{len(results)} dead letter(s) sent back to their consumer")
    return 0

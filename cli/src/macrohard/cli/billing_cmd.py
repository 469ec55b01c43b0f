"""`mh billing usage|invoices|report`: what tenants used and owe, and the fleet's economics.

Reads billing's read model (PostgreSQL schema `billing`) through billing's public face
(`macrohard.billing.public`); a correction is appended through its `correct_invoice`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from macrohard.cli.platform import add_platform_args, resolve

if TYPE_CHECKING:  # imported inside the handlers: `mh --help` stays fast
    import asyncpg


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("billing", help="usage, invoices (CSV/JSON export), fleet economics")
    bsub = p.add_subparsers(dest="billing_command", required=True)
    u = bsub.add_parser("usage", help="a tenant's metered usage and charges per period")
    u.add_argument("--tenant", required=True)
    u.add_argument("--period", help="YYYY-MM (default: every period)")
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=lambda a: asyncio.run(usage(a)))
    i = bsub.add_parser("invoices", help="a tenant's invoices; export as CSV or JSON")
    i.add_argument("--tenant", required=True)
    i.add_argument("--period", help="YYYY-MM (default: every invoice)")
    i.add_argument("--format", choices=("table", "csv", "json"), default="table")
    i.add_argument("--out", type=Path, help="write the export here instead of stdout")
    i.set_defaults(func=lambda a: asyncio.run(invoices(a)))
    r = bsub.add_parser("report", help="revenue, payouts and margin by tenant and by node")
    r.add_argument("--period", required=True, help="YYYY-MM")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=lambda a: asyncio.run(report(a)))
    c = bsub.add_parser("correct", help="a compensating entry for a finalized invoice")
    c.add_argument("--tenant", required=True)
    c.add_argument("--period", required=True, help="YYYY-MM of the finalized invoice")
    c.add_argument("--amount", required=True, help="decimal; negative for a credit")
    c.add_argument("--reason", required=True)
    c.set_defaults(func=lambda a: asyncio.run(correct(a)))
    for q in (u, i, r, c):
        add_platform_args(q)


async def _connect(args: argparse.Namespace) -> asyncpg.Connection:
    import asyncpg

    dsn = args.database_url or resolve(args).database_url
    if not dsn:
        raise SystemExit("no database: pass --database or run `mh up`")
    return await asyncpg.connect(dsn)


def _table(title: str, columns: list[str], rows: list[list[object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right" if c in ("quantity", "amount") else "left")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    Console().print(table)


async def usage(args: argparse.Namespace) -> int:
    import msgspec

    from macrohard.billing import public as billing

    conn = await _connect(args)
    try:
        rows = await billing.usage(conn, args.tenant, args.period)
    finally:
        await conn.close()
    if args.json:
        print(msgspec.json.encode(rows).decode())
    else:
        _table(f"usage of {args.tenant}", ["period", "meter", "quantity", "unit", "amount"],
               [[r.period, r.meter, r.quantity, r.unit, r.amount] for r in rows])  # fmt: skip
    return 0


async def invoices(args: argparse.Namespace) -> int:
    from macrohard.billing import public as billing

    conn = await _connect(args)
    try:
        if args.period:
            one = await billing.invoice(conn, args.tenant, args.period)
            found = [one] if one is not None else []
        else:
            found = await billing.invoices(conn, args.tenant)
    finally:
        await conn.close()
    if args.format == "table":
        rows = [[i.period, i.status, i.revision, ln.meter, ln.usage_period, ln.quantity,
                 ln.amount, i.total] for i in found for ln in i.lines]  # fmt: skip
        _table(f"invoices of {args.tenant}", ["period", "status", "rev", "meter",
               "usage period", "quantity", "amount", "total"], rows)  # fmt: skip
        return 0
    data = (
        billing.invoices_csv(found).encode()
        if args.format == "csv"
        else billing.invoices_json(found)
    )
    if args.out:
        args.out.write_bytes(data)
        print(f"wrote {len(found)} invoice(s) to {args.out}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


async def report(args: argparse.Namespace) -> int:
    import msgspec

    from macrohard.billing import public as billing

    conn = await _connect(args)
    try:
        by_tenant = await billing.economics(conn, args.period, by="tenant")
        by_node = await billing.economics(conn, args.period, by="node")
    finally:
        await conn.close()
    if args.json:
        doc = {"period": args.period, "by_tenant": by_tenant, "by_node": by_node}
        print(msgspec.json.encode(doc).decode())
        return 0
    cols = ["revenue", "payouts", "margin"]
    _table(f"{args.period} by tenant", ["tenant", *cols],
           [[e.key, e.revenue, e.payouts, e.margin] for e in by_tenant])  # fmt: skip
    _table(f"{args.period} by node ('' = work not on a car)", ["node", *cols],
           [[e.key or "''", e.revenue, e.payouts, e.margin] for e in by_node])  # fmt: skip
    return 0


async def correct(args: argparse.Namespace) -> int:
    import nats

    from macrohard.billing import public as billing
    from macrohard.eventlog.store import EventStore

    nc = await nats.connect(resolve(args).nats_url)
    conn = await _connect(args)
    try:
        env = await billing.correct_invoice(
            EventStore(nc), conn, args.tenant, args.period, args.amount, args.reason
        )
    except (billing.NotFinal, billing.InvalidAmount) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    finally:
        await conn.close()
        await nc.close()
    print(f"appended InvoiceCorrected {env.id}: lands on the next open invoice")
    return 0

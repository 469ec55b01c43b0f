"""Read-side queries on schema `billing`, for the gateway (/v1/usage, /v1/invoices) and `mh`.

Each function takes an asyncpg connection and returns msgspec Structs that encode straight
to JSON; money is a decimal string. Import this module rather than querying the tables: the
tables are billing's to change, these signatures are the contract.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from macrohard.billing.domain import LineGroup, invoice_lines, unit_of
from macrohard.billing.money import format_money
from macrohard.contracts.billing import InvoiceLine
from macrohard.eventlog.db import Conn


class MeterUsage(msgspec.Struct, frozen=True, kw_only=True):
    """A meter's total in a period (by when the usage happened), rated."""

    period: str
    meter: str
    quantity: int
    unit: str
    amount: str


class Invoice(msgspec.Struct, frozen=True, kw_only=True):
    """status: "open" (period running or not drafted yet), "draft", "final".

    Open and draft invoices show the live lines; a final one shows what was finalized."""

    invoice_id: str
    tenant_id: str
    period: str
    status: Literal["open", "draft", "final"]
    revision: int
    currency: str
    total: str
    lines: list[InvoiceLine]


class BudgetStatus(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    period: str
    spent: str
    cap: str  # "0.000000" = no cap
    exhausted: bool


class Economics(msgspec.Struct, frozen=True, kw_only=True):
    """Revenue, payouts and margin of a period for one tenant or node ("" = not node work)."""

    key: str
    revenue: str
    payouts: str
    margin: str


class PayoutStatement(msgspec.Struct, frozen=True, kw_only=True):
    statement_id: str
    owner_account: str
    period: str
    total: str
    lines: list[msgspec.Raw]


def invoice_id(tenant_id: str, period: str) -> str:
    return f"{tenant_id}-{period}"


async def usage(conn: Conn, tenant_id: str, period: str | None = None) -> list[MeterUsage]:
    rows = await conn.fetch(
        """SELECT usage_period, meter, quantity, amount_micros FROM billing.meter_totals
           WHERE tenant_id = $1 AND ($2::text IS NULL OR usage_period = $2)
           ORDER BY usage_period, meter""",
        tenant_id,
        period,
    )
    return [
        MeterUsage(
            period=r[0], meter=r[1], quantity=r[2], unit=unit_of(r[1]), amount=format_money(r[3])
        )
        for r in rows
    ]


async def line_groups(conn: Conn, tenant_id: str, period: str) -> list[LineGroup]:
    """The usage records billed to one invoice, summed by (meter, usage period)."""
    rows = await conn.fetch(
        """SELECT meter, usage_period, sum(quantity)::bigint, sum(amount_micros)::bigint
           FROM billing.usage_records WHERE tenant_id = $1 AND billed_period = $2
             AND meter NOT LIKE 'verification:%'  -- the platform's cost, not the tenant's
           GROUP BY meter, usage_period""",
        tenant_id,
        period,
    )
    return [
        LineGroup(r[0], r[1], r[2], r[3], f"late usage from {r[1]}" if r[1] != period else "")
        for r in rows
    ]


async def invoice(conn: Conn, tenant_id: str, period: str) -> Invoice | None:
    stored = await conn.fetchrow(
        "SELECT status, revision, total_micros, lines FROM billing.invoices"
        " WHERE tenant_id = $1 AND period = $2",
        tenant_id,
        period,
    )
    currency = await conn.fetchval(
        "SELECT currency FROM billing.tenants WHERE tenant_id = $1", tenant_id
    )
    if stored is not None and stored[0] == "final":
        lines = msgspec.json.decode(stored[3], type=list[InvoiceLine])
        return Invoice(
            invoice_id=invoice_id(tenant_id, period), tenant_id=tenant_id, period=period,
            status="final", revision=stored[1], currency=currency or "USD",
            total=format_money(stored[2]), lines=lines,
        )  # fmt: skip
    groups = await line_groups(conn, tenant_id, period)
    if not groups and stored is None:
        return None
    lines, total = invoice_lines(groups)
    return Invoice(
        invoice_id=invoice_id(tenant_id, period), tenant_id=tenant_id, period=period,
        status="draft" if stored is not None else "open",
        revision=stored[1] if stored is not None else 0, currency=currency or "USD",
        total=format_money(total), lines=lines,
    )  # fmt: skip


async def invoices(conn: Conn, tenant_id: str) -> list[Invoice]:
    """Every invoice of a tenant, oldest first (open ones included)."""
    periods = await conn.fetch(
        """SELECT period FROM billing.invoices WHERE tenant_id = $1
           UNION SELECT DISTINCT billed_period FROM billing.usage_records WHERE tenant_id = $1
           ORDER BY 1""",
        tenant_id,
    )
    out = []
    for (period,) in periods:
        inv = await invoice(conn, tenant_id, period)
        if inv is not None:
            out.append(inv)
    return out


async def budget(conn: Conn, tenant_id: str, period: str) -> BudgetStatus:
    row = await conn.fetchrow(
        """SELECT coalesce(b.spent_micros, 0), coalesce(t.cap_micros, 0),
                  coalesce(b.exhausted, false)
           FROM (SELECT $1::text AS tenant_id) k
           LEFT JOIN billing.budgets b ON b.tenant_id = k.tenant_id AND b.period = $2
           LEFT JOIN billing.tenants t ON t.tenant_id = k.tenant_id""",
        tenant_id,
        period,
    )
    assert row is not None
    return BudgetStatus(
        tenant_id=tenant_id, period=period, spent=format_money(row[0]),
        cap=format_money(row[1]), exhausted=row[2],
    )  # fmt: skip


# What each grouping keys a usage record by. By node: a check of a car's answer is part of
# that car's cost (the checked car, not the checking one). By model: a car's compute (and
# its checks) under its model's name, the energy its calls drew as "energy_uwh", and work
# not done on a car as "".
_ECONOMICS_KEY = {
    "tenant": "tenant_id",
    "node": "CASE WHEN checks <> '' THEN checks ELSE node_id END",
    "model": """CASE WHEN meter LIKE 'compute:%' THEN split_part(meter, ':', 2)
                     WHEN meter LIKE 'verification:compute:%' THEN split_part(meter, ':', 3)
                     WHEN node_id <> '' THEN replace(meter, 'verification:', '')
                     ELSE '' END""",
}


async def economics(
    conn: Conn, period: str, by: Literal["tenant", "node", "model"] = "tenant"
) -> list[Economics]:
    """Fleet economics of the usage that happened in `period`: revenue (what tenants are
    charged), payouts (what owners earn, checks of the work included: verification is the
    platform's cost) and margin; payouts + margin == revenue, per row."""
    column = _ECONOMICS_KEY[by]
    rows = await conn.fetch(
        f"""SELECT {column}, sum(amount_micros)::bigint, sum(payout_micros)::bigint
            FROM billing.usage_records WHERE usage_period = $1 GROUP BY 1 ORDER BY 1""",
        period,
    )
    return [
        Economics(
            key=r[0], revenue=format_money(r[1]), payouts=format_money(r[2]),
            margin=format_money(r[1] - r[2]),
        )
        for r in rows
    ]  # fmt: skip


async def payout_statements(conn: Conn, owner_account: str) -> list[PayoutStatement]:
    rows = await conn.fetch(
        """SELECT statement_id, period, total_micros, lines FROM billing.statements
           WHERE owner_account = $1 ORDER BY period""",
        owner_account,
    )
    return [
        PayoutStatement(
            statement_id=r[0], owner_account=owner_account, period=r[1],
            total=format_money(r[2]), lines=msgspec.json.decode(r[3], type=list[msgspec.Raw]),
        )
        for r in rows
    ]  # fmt: skip


class LineSource(msgspec.Struct, frozen=True, kw_only=True):
    """One usage event behind an invoice line: the bill explained by the log."""

    event_id: str
    seq: int
    occurred_at: str
    quantity: int
    amount: str
    node_id: str


async def line_sources(
    conn: Conn, tenant_id: str, billed_period: str, meter: str, usage_period: str, limit: int = 500
) -> list[LineSource]:
    """The usage events an invoice line sums, in log order (at most `limit`)."""
    rows = await conn.fetch(
        """SELECT event_id::text, seq, occurred_at, quantity, amount_micros, node_id
           FROM billing.usage_records
           WHERE tenant_id = $1 AND billed_period = $2 AND meter = $3 AND usage_period = $4
           ORDER BY seq LIMIT $5""",
        tenant_id,
        billed_period,
        meter,
        usage_period,
        limit,
    )
    return [
        LineSource(
            event_id=r[0], seq=r[1], occurred_at=r[2].isoformat(), quantity=r[3],
            amount=format_money(r[4]), node_id=r[5],
        )
        for r in rows
    ]  # fmt: skip


class DailyUsage(msgspec.Struct, frozen=True, kw_only=True):
    day: str  # YYYY-MM-DD (UTC)
    meter: str
    quantity: int
    amount: str


async def daily_usage(conn: Conn, tenant_id: str, period: str) -> list[DailyUsage]:
    """A period's usage per UTC day and meter (for a chart over time)."""
    rows = await conn.fetch(
        """SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), meter,
                  sum(quantity)::bigint, sum(amount_micros)::bigint
           FROM billing.usage_records WHERE tenant_id = $1 AND usage_period = $2
             AND meter NOT LIKE 'verification:%'
           GROUP BY 1, 2 ORDER BY 1, 2""",
        tenant_id,
        period,
    )
    return [
        DailyUsage(day=r[0], meter=r[1], quantity=r[2], amount=format_money(r[3])) for r in rows
    ]


async def node_earnings(conn: Conn, period: str) -> dict[str, str]:
    """What each car earned its owner for the usage of `period` (node id -> money)."""
    rows = await conn.fetch(
        """SELECT node_id, sum(payout_micros)::bigint FROM billing.usage_records
           WHERE usage_period = $1 AND node_id <> '' GROUP BY 1""",
        period,
    )
    return {r[0]: format_money(r[1]) for r in rows}

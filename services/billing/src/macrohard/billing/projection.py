"""Billing's read model (schema `billing`): usage records, rated totals, invoices, budgets.

The rating path is this projection: the runner hands it batches in stream order inside the
checkpoint's transaction, so each event is rated exactly once and a rebuild replays the log
into the same totals. Per batch it makes a fixed number of round trips whatever the batch
size: load what the batch touches (one query per table), rate in memory (rating.Ledger),
then one COPY for the usage records and one multi-row upsert per table of totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple

from macrohard.billing.rating import Budget, Ledger, TaskRun, Terms
from macrohard.contracts.envelope import RecordedEvent
from macrohard.eventlog.db import Conn

BUDGET_CHANNEL = "billing_budget"

# Billing reads browser, task, tenant and its own aggregates: most of the log. One "ev.>"
# filter rather than one per event type, because an ordered consumer with several filter
# subjects measured 5-8x slower on nats-server 2.15 here (`mh bench billing`); events of
# other types cost a decode and are skipped by the ledger.
SUBJECTS: tuple[str, ...] = ("ev.>",)

DDL = """
CREATE SCHEMA IF NOT EXISTS billing;
CREATE TABLE IF NOT EXISTS billing.tenants (
    tenant_id text PRIMARY KEY, plan text NOT NULL, cap_micros bigint NOT NULL,
    currency text NOT NULL);
CREATE TABLE IF NOT EXISTS billing.usage_records (
    event_id uuid NOT NULL, meter text NOT NULL, seq bigint NOT NULL, tenant_id text NOT NULL,
    usage_period text NOT NULL, billed_period text NOT NULL, quantity bigint NOT NULL,
    amount_micros bigint NOT NULL, occurred_at timestamptz NOT NULL, node_id text NOT NULL,
    owner_account text NOT NULL, paid_period text NOT NULL, payout_micros bigint NOT NULL,
    PRIMARY KEY (event_id, meter));
CREATE INDEX IF NOT EXISTS usage_by_invoice ON billing.usage_records (tenant_id, billed_period);
CREATE INDEX IF NOT EXISTS usage_by_statement ON billing.usage_records (owner_account, paid_period)
    WHERE owner_account <> '';
CREATE TABLE IF NOT EXISTS billing.meter_totals (
    tenant_id text, usage_period text, meter text, quantity bigint NOT NULL,
    amount_micros bigint NOT NULL, PRIMARY KEY (tenant_id, usage_period, meter));
CREATE TABLE IF NOT EXISTS billing.node_totals (
    tenant_id text, usage_period text, node_id text, owner_account text NOT NULL,
    compute_us bigint NOT NULL, energy_uwh bigint NOT NULL,
    PRIMARY KEY (tenant_id, usage_period, node_id));
CREATE TABLE IF NOT EXISTS billing.budgets (
    tenant_id text, period text, spent_micros bigint NOT NULL, exhausted boolean NOT NULL,
    PRIMARY KEY (tenant_id, period));
CREATE TABLE IF NOT EXISTS billing.budget_signals (
    signal_id uuid PRIMARY KEY, tenant_id text NOT NULL, period text NOT NULL,
    kind text NOT NULL, spent_micros bigint NOT NULL, cap_micros bigint NOT NULL,
    cause_event_id uuid NOT NULL, correlation_id text NOT NULL, seq bigint NOT NULL,
    emitted boolean NOT NULL);
CREATE TABLE IF NOT EXISTS billing.task_runs (
    tenant_id text, task_id text, started_at timestamptz NOT NULL, ended boolean NOT NULL,
    PRIMARY KEY (tenant_id, task_id));
CREATE TABLE IF NOT EXISTS billing.invoices (
    tenant_id text, period text, invoice_id text NOT NULL, status text NOT NULL,
    revision int NOT NULL, total_micros bigint NOT NULL, through_seq bigint NOT NULL,
    lines jsonb NOT NULL, version bigint NOT NULL, PRIMARY KEY (tenant_id, period));
CREATE TABLE IF NOT EXISTS billing.statements (
    owner_account text, period text, statement_id text NOT NULL, total_micros bigint NOT NULL,
    through_seq bigint NOT NULL, lines jsonb NOT NULL, PRIMARY KEY (owner_account, period));
"""
TABLES = (
    "tenants",
    "usage_records",
    "meter_totals",
    "node_totals",
    "budgets",
    "budget_signals",
    "task_runs",
    "invoices",
    "statements",
)
USAGE_COLUMNS = (
    "event_id",
    "meter",
    "seq",
    "tenant_id",
    "usage_period",
    "billed_period",
    "quantity",
    "amount_micros",
    "occurred_at",
    "node_id",
    "owner_account",
    "paid_period",
    "payout_micros",
)

_OPS = {
    "draft": """INSERT INTO billing.invoices VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8)
        ON CONFLICT (tenant_id, period) DO UPDATE SET revision = $4, total_micros = $5,
        through_seq = $6, lines = $7, version = $8 WHERE billing.invoices.status = 'draft'""",
    "final": """INSERT INTO billing.invoices VALUES ($1, $2, $3, 'final', $4, $5, $6, $7, $8)
        ON CONFLICT (tenant_id, period) DO UPDATE SET status = 'final', revision = $4,
        total_micros = $5, through_seq = $6, lines = $7, version = $8""",
    "rebill": """UPDATE billing.usage_records SET billed_period = $4
        WHERE tenant_id = $1 AND billed_period = $2 AND seq > $3""",
    "stated": """INSERT INTO billing.statements VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (owner_account, period) DO NOTHING""",
    "repay": """UPDATE billing.usage_records SET paid_period = $4
        WHERE owner_account = $1 AND paid_period = $2 AND seq > $3""",
}


class BillingProjection:
    """Meters, rates and assigns usage to invoices and payout statements."""

    name = "billing"
    subjects: Sequence[str] = SUBJECTS

    async def create(self, conn: Conn) -> None:
        await conn.execute(DDL)

    async def drop(self, conn: Conn) -> None:
        await conn.execute("DROP TABLE IF EXISTS " + ", ".join(f"billing.{t}" for t in TABLES))

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        ledger = await load_ledger(conn, events)
        for rec in events:
            ledger.apply(rec)
        await write_ledger(conn, ledger)


async def load_ledger(conn: Conn, events: Sequence[RecordedEvent]) -> Ledger:
    """Everything the batch can touch, keyed for the in-memory rating."""
    tenants = sorted({e.envelope.tenant for e in events})
    ids = [e.envelope.id for e in events]
    ledger = Ledger()
    for r in await conn.fetch(
        "SELECT * FROM billing.tenants WHERE tenant_id = ANY($1::text[])", tenants
    ):
        ledger.tenants[r[0]] = Terms(r[1], r[2], r[3])
    # Totals of every period the batch's tenants have open; a batch spans few of both.
    for r in await conn.fetch(
        """SELECT tenant_id, usage_period, meter, quantity, amount_micros
           FROM billing.meter_totals WHERE tenant_id = ANY($1::text[])
           AND usage_period = ANY($2::text[])""",
        tenants,
        _periods(events),
    ):
        ledger.meter_totals[(r[0], r[1], r[2])] = [r[3], r[4]]
    for r in await conn.fetch(
        """SELECT tenant_id, usage_period, node_id, owner_account, compute_us, energy_uwh
           FROM billing.node_totals WHERE tenant_id = ANY($1::text[])
           AND usage_period = ANY($2::text[])""",
        tenants,
        _periods(events),
    ):
        ledger.node_totals[(r[0], r[1], r[2])] = [r[3], r[4], r[5]]
    for r in await conn.fetch(
        "SELECT * FROM billing.budgets WHERE tenant_id = ANY($1::text[])", tenants
    ):
        ledger.budgets[(r[0], r[1])] = Budget(r[2], r[3])
    task_keys = [
        (e.envelope.tenant, getattr(e.payload, "task_id", ""))
        for e in events
        if e.type in ("TaskStarted", "TaskCompleted", "TaskFailed", "TaskCancelled")
    ]
    if task_keys:
        for r in await conn.fetch(
            """SELECT t.* FROM billing.task_runs t
               JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, task_id)
               USING (tenant_id, task_id)""",
            [k[0] for k in task_keys],
            [k[1] for k in task_keys],
        ):
            ledger.tasks[(r[0], r[1])] = TaskRun(r[2], r[3])
    for r in await conn.fetch(
        """SELECT tenant_id, max(period) FROM billing.invoices
           WHERE status = 'final' AND tenant_id = ANY($1::text[]) GROUP BY tenant_id""",
        tenants,
    ):
        ledger.last_final[r[0]] = r[1]
    owners = sorted({o for e in events if (o := getattr(e.payload, "owner_account", ""))})
    if owners:
        for r in await conn.fetch(
            """SELECT owner_account, max(period) FROM billing.statements
               WHERE owner_account = ANY($1::text[]) GROUP BY owner_account""",
            owners,
        ):
            ledger.last_stated[r[0]] = r[1]
    for r in await conn.fetch(
        """SELECT DISTINCT event_id::text FROM billing.usage_records
           WHERE event_id = ANY($1::uuid[])""",
        ids,
    ):
        ledger.seen.add(r[0])
    return ledger


def _periods(events: Sequence[RecordedEvent]) -> list[str]:
    return sorted(
        {f"{e.envelope.occurred_at.year:04d}-{e.envelope.occurred_at.month:02d}" for e in events}
    )


async def write_ledger(conn: Conn, ledger: Ledger) -> None:
    # Ops first: a finalization's re-billing must only move rows of earlier batches (this
    # batch's own rows were moved in memory already).
    for key, args in ledger.ops:
        await conn.execute(_OPS[key], *args)
    if ledger.records:
        await conn.copy_records_to_table(
            "usage_records",
            schema_name="billing",
            columns=USAGE_COLUMNS,
            records=ledger.records,
        )
    if ledger.dirty_tenants:
        rows = [(t, *_terms(ledger.tenants[t])) for t in ledger.dirty_tenants]
        await _upsert(conn, "tenants", ("text", "text", "bigint", "text"), 1, rows)
    if ledger.dirty_meters:
        rows = [(*k, *ledger.meter_totals[k]) for k in ledger.dirty_meters]
        await _upsert(conn, "meter_totals", ("text",) * 3 + ("bigint",) * 2, 3, rows)
    if ledger.dirty_nodes:
        rows = [(*k, *ledger.node_totals[k]) for k in ledger.dirty_nodes]
        await _upsert(conn, "node_totals", ("text",) * 4 + ("bigint",) * 2, 3, rows)
    if ledger.dirty_budgets:
        rows = [
            (*k, b.spent, b.exhausted)
            for k, b in ((k, ledger.budgets[k]) for k in ledger.dirty_budgets)
        ]
        await _upsert(conn, "budgets", ("text", "text", "bigint", "boolean"), 2, rows)
    if ledger.dirty_tasks:
        rows = [(*k, ledger.tasks[k].started_at, ledger.tasks[k].ended) for k in ledger.dirty_tasks]
        await _upsert(conn, "task_runs", ("text", "text", "timestamptz", "boolean"), 2, rows)
    if ledger.signals:
        await conn.executemany(
            """INSERT INTO billing.budget_signals
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false)
               ON CONFLICT (signal_id) DO NOTHING""",
            [astuple(s) for s in ledger.signals],
        )
        # Delivered at commit, never before: the signaller reads what this batch wrote.
        await conn.execute(f"NOTIFY {BUDGET_CHANNEL}")
    if ledger.emitted:
        await conn.executemany(
            """INSERT INTO billing.budget_signals
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true)
               ON CONFLICT (signal_id) DO UPDATE SET emitted = true""",
            [astuple(s) for s in ledger.emitted],
        )


def _terms(t: Terms) -> tuple[object, ...]:
    return (t.plan, t.cap, t.currency)


_UPSERT_COLUMNS = {
    "tenants": ("tenant_id", "plan", "cap_micros", "currency"),
    "meter_totals": ("tenant_id", "usage_period", "meter", "quantity", "amount_micros"),
    "node_totals": (
        "tenant_id",
        "usage_period",
        "node_id",
        "owner_account",
        "compute_us",
        "energy_uwh",
    ),
    "budgets": ("tenant_id", "period", "spent_micros", "exhausted"),
    "task_runs": ("tenant_id", "task_id", "started_at", "ended"),
}


async def _upsert(
    conn: Conn, table: str, types: tuple[str, ...], key_len: int, rows: list[tuple[object, ...]]
) -> None:
    """One statement for any number of rows: INSERT ... SELECT unnest(arrays) ON CONFLICT.

    The ledger holds absolute values, so the update is a plain overwrite."""
    cols = _UPSERT_COLUMNS[table]
    params = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols[key_len:])
    await conn.execute(
        f"""INSERT INTO billing.{table} ({", ".join(cols)}) SELECT * FROM unnest({params})
            ON CONFLICT ({", ".join(cols[:key_len])}) DO UPDATE SET {updates}""",
        *([r[i] for r in rows] for i in range(len(types))),
    )

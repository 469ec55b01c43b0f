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

from macrohard.billing.domain import period_of
from macrohard.billing.rating import Budget, Ledger, NodeUse, TaskRun, Terms
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
-- What the car's work was charged and what its owner earned at the rates, before the cap.
ALTER TABLE billing.node_totals ADD COLUMN IF NOT EXISTS revenue_micros bigint NOT NULL DEFAULT 0;
ALTER TABLE billing.node_totals ADD COLUMN IF NOT EXISTS earned_micros bigint NOT NULL DEFAULT 0;
-- What the owner was paid (NULL on rows written before it was stored: the cap then was
-- 80% of revenue, see load_ledger), what checking the car's answers cost, and the work the
-- car did checking others' answers (paid apart, charged to no tenant).
ALTER TABLE billing.node_totals ADD COLUMN IF NOT EXISTS paid_micros bigint;
ALTER TABLE billing.node_totals ADD COLUMN IF NOT EXISTS verify_cost_micros bigint NOT NULL
    DEFAULT 0;
ALTER TABLE billing.node_totals ADD COLUMN IF NOT EXISTS checks_us bigint NOT NULL DEFAULT 0;
ALTER TABLE billing.node_totals ADD COLUMN IF NOT EXISTS checks_uwh bigint NOT NULL DEFAULT 0;
-- A verification record's checked car (whose work its cost belongs to); "" otherwise.
ALTER TABLE billing.usage_records ADD COLUMN IF NOT EXISTS checks text NOT NULL DEFAULT '';
-- An inference's "<task>:<step>:<model>" (its checks share it): what a credit traces.
ALTER TABLE billing.usage_records ADD COLUMN IF NOT EXISTS call text NOT NULL DEFAULT '';
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
-- Cars the registry quarantined, and whether their held answers are settled (every
-- AnswersCredited the quarantine owes is in the log): the withholder's work list.
CREATE TABLE IF NOT EXISTS billing.quarantines (
    event_id text PRIMARY KEY, node_id text NOT NULL, quarantined_at timestamptz NOT NULL,
    seq bigint NOT NULL, credits_seen int NOT NULL DEFAULT 0, credits int NOT NULL DEFAULT -1);
CREATE INDEX IF NOT EXISTS usage_by_node ON billing.usage_records (node_id, occurred_at)
    WHERE node_id <> '';
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
    "quarantines",
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
    "checks",
    "call",
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
    "quarantine": """INSERT INTO billing.quarantines (event_id, node_id, quarantined_at, seq)
        VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING""",
    "credited": """UPDATE billing.quarantines SET credits_seen = credits_seen + 1, credits = $2
        WHERE event_id = $1""",
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


# Everything a batch can touch, in one round trip: one array of rows per table.
_LOAD = """
SELECT
  ARRAY(SELECT ROW(tenant_id, plan, cap_micros, currency) FROM billing.tenants
        WHERE tenant_id = ANY($1::text[])),
  ARRAY(SELECT ROW(tenant_id, usage_period, meter, quantity, amount_micros)
        FROM billing.meter_totals
        WHERE tenant_id = ANY($1::text[]) AND usage_period = ANY($2::text[])),
  ARRAY(SELECT ROW(tenant_id, usage_period, node_id, owner_account, compute_us, energy_uwh,
                   revenue_micros, earned_micros,
                   coalesce(paid_micros, least(earned_micros, revenue_micros * 80 / 100)),
                   verify_cost_micros, checks_us, checks_uwh)
        FROM billing.node_totals
        WHERE tenant_id = ANY($1::text[]) AND usage_period = ANY($2::text[])),
  ARRAY(SELECT ROW(tenant_id, period, spent_micros, exhausted) FROM billing.budgets
        WHERE tenant_id = ANY($1::text[]) AND period = ANY($2::text[])),
  ARRAY(SELECT ROW(t.tenant_id, t.task_id, t.started_at, t.ended) FROM billing.task_runs t
        JOIN unnest($3::text[], $4::text[]) AS k(tenant_id, task_id) USING (tenant_id, task_id)),
  ARRAY(SELECT ROW(tenant_id, max(period)) FROM billing.invoices
        WHERE status = 'final' AND tenant_id = ANY($1::text[]) GROUP BY tenant_id),
  ARRAY(SELECT ROW(owner_account, max(period)) FROM billing.statements
        WHERE owner_account = ANY($5::text[]) GROUP BY owner_account),
  ARRAY(SELECT DISTINCT event_id::text FROM billing.usage_records
        WHERE event_id = ANY($6::uuid[]))
"""
_TASK_TYPES = frozenset(("TaskStarted", "TaskCompleted", "TaskFailed", "TaskCancelled"))


async def load_ledger(conn: Conn, events: Sequence[RecordedEvent]) -> Ledger:
    """The state the batch starts from, keyed for the in-memory rating."""
    tenants: set[str] = set()
    periods: set[str] = set()
    owners: set[str] = set()
    task_tenants: list[str] = []
    task_ids: list[str] = []
    for e in events:
        env = e.envelope
        tenants.add(env.tenant)
        periods.add(period_of(env.occurred_at))
        if env.type in _TASK_TYPES:
            task_tenants.append(env.tenant)
            task_ids.append(getattr(env.payload, "task_id", ""))
        elif env.type in ("InferenceCompleted", "AnswersCredited"):
            owners.add(getattr(env.payload, "owner_account", ""))
            tenants.add(getattr(env.payload, "tenant_id", env.tenant))
        elif env.type in ("TenantOnboarded", "TenantBudgetChanged"):
            tenants.add(getattr(env.payload, "tenant_id", env.tenant))
    row = await conn.fetchrow(
        _LOAD, list(tenants), list(periods), task_tenants, task_ids, list(owners),
        [e.envelope.id for e in events],
    )  # fmt: skip
    assert row is not None
    ledger = Ledger()
    ledger.tenants = {r[0]: Terms(r[1], r[2], r[3]) for r in row[0]}
    ledger.meter_totals = {(r[0], r[1], r[2]): [r[3], r[4]] for r in row[1]}
    ledger.node_totals = {(r[0], r[1], r[2]): NodeUse(*r[3:]) for r in row[2]}
    ledger.budgets = {(r[0], r[1]): Budget(r[2], r[3]) for r in row[3]}
    ledger.tasks = {(r[0], r[1]): TaskRun(r[2], r[3]) for r in row[4]}
    ledger.last_final = {r[0]: r[1] for r in row[5]}
    ledger.last_stated = {r[0]: r[1] for r in row[6]}
    ledger.seen = set(row[7])
    return ledger


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
    # Every table of totals in one statement: data-modifying CTEs, one per table.
    rows: dict[str, list[tuple[object, ...]]] = {
        "tenants": [(t, *_terms(ledger.tenants[t])) for t in ledger.dirty_tenants],
        "meter_totals": [(*k, *ledger.meter_totals[k]) for k in ledger.dirty_meters],
        "node_totals": [
            (
                *k,
                n.owner_account,
                n.compute_us,
                n.energy_uwh,
                n.revenue,
                n.earned,
                n.paid,
                n.verify_cost,
                n.checks_us,
                n.checks_uwh,
            )
            for k, n in ((k, ledger.node_totals[k]) for k in ledger.dirty_nodes)
        ],
        "budgets": [
            (*k, ledger.budgets[k].spent, ledger.budgets[k].exhausted) for k in ledger.dirty_budgets
        ],
        "task_runs": [
            (*k, ledger.tasks[k].started_at, ledger.tasks[k].ended) for k in ledger.dirty_tasks
        ],
    }
    if any(rows.values()):
        arrays = [
            [r[i] for r in rows[table]]
            for table, (cols, _, _) in _UPSERT.items()
            for i in range(len(cols))
        ]
        await conn.execute(_UPSERT_ALL, *arrays)
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


# Columns and their types per table of totals; the first `key` columns are the key.
_UPSERT: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    "tenants": (("tenant_id", "plan", "cap_micros", "currency"),
                ("text", "text", "bigint", "text"), 1),
    "meter_totals": (("tenant_id", "usage_period", "meter", "quantity", "amount_micros"),
                     ("text", "text", "text", "bigint", "bigint"), 3),
    "node_totals": (("tenant_id", "usage_period", "node_id", "owner_account", "compute_us",
                     "energy_uwh", "revenue_micros", "earned_micros", "paid_micros",
                     "verify_cost_micros", "checks_us", "checks_uwh"),
                    ("text", "text", "text", "text", "bigint", "bigint", "bigint", "bigint",
                     "bigint", "bigint", "bigint", "bigint"), 3),
    "budgets": (("tenant_id", "period", "spent_micros", "exhausted"),
                ("text", "text", "bigint", "boolean"), 2),
    "task_runs": (("tenant_id", "task_id", "started_at", "ended"),
                  ("text", "text", "timestamptz", "boolean"), 2),
}  # fmt: skip


def _upsert_all_sql() -> str:
    """INSERT ... SELECT unnest(arrays) ON CONFLICT per table, as CTEs of one statement.
    The ledger holds absolute values, so an update is a plain overwrite."""
    ctes = []
    n = 0
    for table, (cols, types, key) in _UPSERT.items():
        params = ", ".join(f"${n + i + 1}::{t}[]" for i, t in enumerate(types))
        n += len(types)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols[key:])
        ctes.append(
            f"{table} AS (INSERT INTO billing.{table} ({', '.join(cols)}) "
            f"SELECT * FROM unnest({params}) "
            f"ON CONFLICT ({', '.join(cols[:key])}) DO UPDATE SET {updates})"
        )
    return "WITH " + ",\n".join(ctes) + "\nSELECT 1"


_UPSERT_ALL = _upsert_all_sql()

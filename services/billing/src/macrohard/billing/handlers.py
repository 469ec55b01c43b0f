"""What billing does on its own: emit budget events, draft and finalize invoices, state payouts.

Both read the projection's tables and append events; neither rates anything itself.

- `BudgetSignaller` appends the budget events the projection decided on. Their ids are
  derived from the usage event that crossed the cap (or the budget change that lifted it),
  so however often it runs, on however many replicas, each is stored once. It wakes on a
  PostgreSQL NOTIFY sent by the projection's transaction (delivered at commit), so the
  planner hears of an exhausted budget within milliseconds of the usage being rated.
- `Invoicer` closes periods: after a month ends it drafts each invoice (re-drafting when late
  usage changes it during the grace period) and, once the grace is over, finalizes it; it
  states each car owner's payout once the month's answers are past their holding period.
  Each event records `through_seq`, the projection position its lines were read at; usage
  logged later is moved to the next invoice by the projection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import msgspec

from macrohard.billing.domain import DEFAULT_GRACE, closes_at, invoice_lines, period_of
from macrohard.billing.holding import HOLDING_PERIOD
from macrohard.billing.money import format_money, format_units
from macrohard.billing.projection import BUDGET_CHANNEL, BillingProjection
from macrohard.billing.queries import invoice_id, line_groups
from macrohard.contracts import envelope
from macrohard.contracts.billing import (
    BudgetExhausted,
    BudgetRestored,
    InvoiceDrafted,
    InvoiceFinalized,
    InvoiceLine,
    PayoutLine,
    PayoutStated,
)
from macrohard.contracts.envelope import Envelope, derived_event_id, utcnow
from macrohard.contracts.subjects import PLATFORM_TENANT, check_token
from macrohard.eventlog.db import Conn
from macrohard.eventlog.errors import ConcurrencyConflict
from macrohard.eventlog.projection import read_checkpoint
from macrohard.eventlog.store import EventStore

log = logging.getLogger("macrohard.billing")


class BudgetSignaller:
    def __init__(
        self, store: EventStore, pool: asyncpg.Pool, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._store = store
        self._pool = pool
        self._clock = clock
        self._appended: set[str] = set()  # until the projection has seen them

    async def run_once(self) -> int:
        """Append every budget event not in the log yet; return how many were appended."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT signal_id::text, tenant_id, period, kind, spent_micros, cap_micros,
                          cause_event_id::text, correlation_id
                   FROM billing.budget_signals WHERE NOT emitted ORDER BY seq"""
            )
        appended = 0
        for sid, tenant, period, kind, spent, cap, cause, correlation in rows:
            if sid in self._appended:
                continue
            event: BudgetExhausted | BudgetRestored
            if kind == "exhausted":
                event = BudgetExhausted(
                    tenant_id=tenant, period=period, spent=format_money(spent),
                    cap=format_money(cap),
                )  # fmt: skip
            else:
                event = BudgetRestored(tenant_id=tenant, period=period, cap=format_money(cap))
            env = envelope(
                event, tenant=tenant, aggregate_id=tenant, event_id=sid,
                causation_id=cause, correlation_id=correlation,
            )  # fmt: skip
            # No expected version: the derived id makes the append idempotent, and the order
            # of one tenant's signals is the order of the rows (their causes' sequence).
            await self._store.append([env], expected_version=None)
            self._appended.add(sid)
            appended += 1
            log.info("budget %s", kind, extra={"tenant": tenant, "period": period})
        if len(self._appended) > 10_000:
            self._appended.clear()
        return appended

    async def roll_over(self, now: datetime) -> int:
        """Lift caps exhausted in a month that has ended: a new month starts a new budget.

        The restore's id derives from the exhaustion it lifts and the new month, so it is
        appended once; the projection records it, which is what stops the next round."""
        current = period_of(now)
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT s.signal_id::text, s.tenant_id, s.correlation_id,
                          coalesce(t.cap_micros, s.cap_micros)
                   FROM (SELECT DISTINCT ON (tenant_id) * FROM billing.budget_signals
                         WHERE emitted ORDER BY tenant_id, seq DESC) s
                   LEFT JOIN billing.tenants t USING (tenant_id)
                   WHERE s.kind = 'exhausted' AND s.period < $1""",
                current,
            )
        for sid, tenant, correlation, cap in rows:
            env = envelope(
                BudgetRestored(tenant_id=tenant, period=current, cap=format_money(cap)),
                tenant=tenant, aggregate_id=tenant, causation_id=sid,
                correlation_id=correlation, event_id=derived_event_id(sid, f"rollover:{current}"),
            )  # fmt: skip
            await self._store.append([env], expected_version=None)
            log.info("budget restored for a new month", extra={"tenant": tenant})
        return len(rows)

    async def run(self, poll_s: float = 2.0) -> None:
        """Wake on the projection's NOTIFY, and poll as a fallback (a lost connection)."""
        wake = asyncio.Event()

        def on_notify(*_: object) -> None:
            wake.set()

        async with self._pool.acquire() as listener:
            await listener.add_listener(BUDGET_CHANNEL, on_notify)
            try:
                while True:
                    await self.run_once()
                    await self.roll_over(self._clock())
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), poll_s)
                    wake.clear()
            finally:
                await listener.remove_listener(BUDGET_CHANNEL, on_notify)


def owner_token(owner_account: str) -> str:
    """A subject-safe id for an owner account (which may hold '@' or dots)."""
    try:
        return check_token("owner", owner_account)
    except ValueError:
        return "o" + hashlib.sha256(owner_account.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class CloseResult:
    drafted: int = 0
    finalized: int = 0
    stated: int = 0


@dataclass(frozen=True, slots=True)
class _DueInvoice:
    tenant: str
    period: str
    revision: int
    lines: list[InvoiceLine]
    total: int
    previous: list[InvoiceLine] | None  # the last draft's lines
    version: int  # the invoice aggregate's version the decision was made on
    currency: str


@dataclass(frozen=True, slots=True)
class _DueStatement:
    owner: str
    period: str
    lines: list[PayoutLine]
    total: int


class Invoicer:
    def __init__(
        self,
        store: EventStore,
        pool: asyncpg.Pool,
        *,
        grace: timedelta = DEFAULT_GRACE,
        hold: timedelta = HOLDING_PERIOD,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._pool = pool
        self._grace = grace
        # Owners' earnings are released once every answer they pay for is past its holding
        # period (a car caught lying before then forfeits them): a month's statement waits
        # until the month ended `hold` ago, and at least the invoices' grace.
        self._release = max(grace, hold)
        self._clock = clock

    async def run_once(self, now: datetime | None = None) -> CloseResult:
        """Draft, re-draft and finalize every invoice of an ended month; state payouts."""
        now = now or self._clock()
        current = period_of(now)
        # One snapshot: the projection writes its rows and checkpoint in one transaction,
        # so the position read here is exactly what the lines include.
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            through = await read_checkpoint(conn, BillingProjection.name)
            due = await self._due_invoices(conn, current)
            statements = await self._due_statements(conn, current)
        drafted = finalized = stated = 0
        for inv in due:
            closing = now >= closes_at(inv.period, self._grace)
            events = self._invoice_events(inv, closing, through)
            if not events:
                continue
            try:
                await self._store.append(events, expected_version=inv.version)
            except ConcurrencyConflict:
                continue  # another replica closed it first; the next round sees its events
            drafted += inv.previous != inv.lines
            finalized += closing
        for st in statements:
            if now < closes_at(st.period, self._release):
                continue
            sid = f"{owner_token(st.owner)}-{st.period}"
            env = envelope(PayoutStated(
                statement_id=sid, owner_account=st.owner, period=st.period, currency="USD",
                lines=st.lines, total=format_money(st.total), through_seq=through,
            ), tenant=PLATFORM_TENANT, aggregate_id=sid)  # fmt: skip
            try:
                await self._store.append([env], expected_version=0)
            except ConcurrencyConflict:
                continue
            stated += 1
        return CloseResult(drafted, finalized, stated)

    @staticmethod
    def _invoice_events(inv: _DueInvoice, closing: bool, through: int) -> list[Envelope]:
        agg = invoice_id(inv.tenant, inv.period)
        events: list[Envelope] = []
        revision = inv.revision
        if inv.previous != inv.lines:  # new, or late usage changed it
            revision += 1
            events.append(envelope(InvoiceDrafted(
                invoice_id=agg, tenant_id=inv.tenant, period=inv.period, currency=inv.currency,
                revision=revision, lines=inv.lines, total=format_money(inv.total),
                through_seq=through,
            ), tenant=inv.tenant, aggregate_id=agg))  # fmt: skip
        if closing:
            events.append(envelope(InvoiceFinalized(
                invoice_id=agg, tenant_id=inv.tenant, period=inv.period, currency=inv.currency,
                revision=revision, lines=inv.lines, total=format_money(inv.total),
                through_seq=through,
            ), tenant=inv.tenant, aggregate_id=agg))  # fmt: skip
        return events

    @staticmethod
    async def _due_invoices(conn: Conn, current: str) -> list[_DueInvoice]:
        rows = await conn.fetch(
            """SELECT DISTINCT u.tenant_id, u.billed_period, i.revision,
                      i.lines, i.version, coalesce(t.currency, 'USD')
               FROM billing.usage_records u
               LEFT JOIN billing.invoices i
                 ON i.tenant_id = u.tenant_id AND i.period = u.billed_period
               LEFT JOIN billing.tenants t ON t.tenant_id = u.tenant_id
               WHERE u.billed_period < $1 AND i.status IS DISTINCT FROM 'final'""",
            current,
        )
        out = []
        for tenant, period, revision, stored, version, currency in rows:
            lines, total = invoice_lines(await line_groups(conn, tenant, period))
            previous = msgspec.json.decode(stored, type=list[InvoiceLine]) if stored else None
            out.append(_DueInvoice(tenant, period, revision or 0, lines, total, previous,
                                   version or 0, currency))  # fmt: skip
        return out

    @staticmethod
    async def _due_statements(conn: Conn, current: str) -> list[_DueStatement]:
        rows = await conn.fetch(
            """SELECT u.owner_account, u.paid_period, u.node_id, u.usage_period,
                      sum(CASE WHEN u.meter LIKE '%compute:%' THEN u.quantity ELSE 0 END)::bigint,
                      sum(CASE WHEN u.meter LIKE '%energy_uwh' THEN u.quantity ELSE 0 END)::bigint,
                      sum(u.payout_micros)::bigint
               FROM billing.usage_records u
               LEFT JOIN billing.statements s
                 ON s.owner_account = u.owner_account AND s.period = u.paid_period
               WHERE u.owner_account <> '' AND u.paid_period < $1 AND s.period IS NULL
               GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""",
            current,
        )
        out: dict[tuple[str, str], tuple[list[PayoutLine], int]] = {}
        for owner, period, node, usage_period, compute_us, energy_uwh, payout in rows:
            paid, total = out.get((owner, period), ([], 0))
            paid.append(PayoutLine(
                node_id=node, usage_period=usage_period,
                compute_ms=format_units(compute_us, 1000),
                energy_wh=format_units(energy_uwh, 1_000_000), amount=format_money(payout),
            ))  # fmt: skip
            out[(owner, period)] = (paid, total + payout)
        return [_DueStatement(o, p, lines, total) for (o, p), (lines, total) in out.items()]

    async def run(self, interval_s: float = 60.0) -> None:
        while True:
            try:
                result = await self.run_once()
                if result != CloseResult():
                    log.info("periods closed", extra={"result": str(result)})
            except Exception:
                log.exception("closing periods failed; retrying next round")
            await asyncio.sleep(interval_s)

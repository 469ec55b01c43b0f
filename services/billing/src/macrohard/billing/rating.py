"""Rating one batch of events against the state it starts from: pure, no I/O.

The projection loads what a batch touches (tenants' terms, period totals, open tasks, which
invoices are final), hands it to a `Ledger`, feeds the events in stream order, and writes
back what changed. Keeping this step free of I/O makes it the fast path (a dict lookup and
two tier evaluations per event) and lets tests drive it without servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import msgspec

from macrohard.billing.domain import (
    CORRECTION,
    CREDIT,
    VERIFICATION,
    Usage,
    billed_period,
    cap_reached,
    next_period,
    period_of,
    task_ms,
    usage_of,
)
from macrohard.billing.money import InvalidAmount, parse_money
from macrohard.billing.plans import (
    DEFAULT_PLAN,
    MAX_PAYOUT_PCT,
    PAYOUT_RATES,
    MeterPrice,
    PayoutRates,
    Plan,
    plan_named,
)
from macrohard.contracts.billing import (
    AnswersCredited,
    BudgetExhausted,
    BudgetRestored,
    InvoiceCorrected,
    InvoiceDrafted,
    InvoiceFinalized,
    PayoutStated,
)
from macrohard.contracts.envelope import RecordedEvent, derived_event_id
from macrohard.contracts.fleet import NodeQuarantined
from macrohard.contracts.tasks import TaskCancelled, TaskCompleted, TaskFailed, TaskStarted
from macrohard.contracts.tenancy import TenantBudgetChanged, TenantOnboarded

TASK_ENDS = (TaskCompleted, TaskFailed, TaskCancelled)


@dataclass(slots=True)
class Terms:
    plan: str = DEFAULT_PLAN
    cap: int = 0
    currency: str = "USD"


@dataclass(slots=True)
class Budget:
    spent: int = 0
    exhausted: bool = False


@dataclass(slots=True)
class NodeUse:
    """What one tenant's work used of one car in a period: the base of the owner's payout."""

    owner_account: str
    compute_us: int = 0
    energy_uwh: int = 0
    revenue: int = 0  # what the tenant was charged for this car's work
    earned: int = 0  # what the owner earned at the payout rates (paid: see `paid`)
    paid: int = 0  # what the owner is paid for it so far (never falls)
    verify_cost: int = 0  # what checking this car's answers on other cars cost the platform
    checks_us: int = 0  # compute this car spent checking other cars' answers (paid apart)
    checks_uwh: int = 0

    def settle(self) -> int:
        """Raise `paid` to what the totals allow now; return the increase (never negative:
        an earning held back is paid with a later charged record)."""
        due = payable(self.earned, self.revenue, self.verify_cost)
        if due <= self.paid:
            return 0
        raised, self.paid = due - self.paid, due
        return raised


def payable(earned: int, revenue: int, verify_cost: int) -> int:
    """What an owner may be paid for a car's work: its earnings, up to a share of what the
    tenants paid for that work less what checking it cost. So the car's work keeps a margin
    however much of it was verified; while a new car's checks exceed what its work sold for,
    its earnings wait for its later work."""
    return max(0, min(earned, revenue * MAX_PAYOUT_PCT // 100 - verify_cost))


@dataclass(slots=True)
class TaskRun:
    started_at: datetime
    ended: bool = False


@dataclass(slots=True)
class Signal:
    """A budget event billing owes the log; its id is derived from the event that caused it."""

    signal_id: str
    tenant_id: str
    period: str
    kind: str  # "exhausted" | "restored"
    spent: int
    cap: int
    cause_event_id: str
    correlation_id: str
    seq: int


# A usage record row, in the column order of billing.usage_records (see projection.py).
# Mutable: a finalization later in the same batch may move it to the next invoice.
Record = list[object]
BILLED, PAID, SEQ, TENANT, OWNER = 5, 11, 2, 3, 10


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _money_or_zero(value: str) -> int:
    try:
        return parse_money(value)
    except InvalidAmount:
        return 0  # an unreadable budget is no cap rather than a stopped tenant


@dataclass
class Ledger:
    """The state a batch starts from (loaded by the projection) and what it changes."""

    tenants: dict[str, Terms] = field(default_factory=dict)
    meter_totals: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    node_totals: dict[tuple[str, str, str], NodeUse] = field(default_factory=dict)
    budgets: dict[tuple[str, str], Budget] = field(default_factory=dict)
    tasks: dict[tuple[str, str], TaskRun] = field(default_factory=dict)
    last_final: dict[str, str] = field(default_factory=dict)
    last_stated: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    plans: Mapping[str, Plan] | None = None
    rates: PayoutRates = PAYOUT_RATES
    # Outputs.
    records: list[Record] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    # Budget events found in the log: marks our own signals as emitted, and records the
    # ones the signaller appends without a signal (a new month lifting an exhausted cap).
    emitted: list[Signal] = field(default_factory=list)
    # Statements on the read model, in stream order: (sql key, args).
    ops: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)
    dirty_tenants: set[str] = field(default_factory=set)
    dirty_meters: set[tuple[str, str, str]] = field(default_factory=set)
    dirty_nodes: set[tuple[str, str, str]] = field(default_factory=set)
    dirty_budgets: set[tuple[str, str]] = field(default_factory=set)
    dirty_tasks: set[tuple[str, str]] = field(default_factory=set)
    duplicates: int = 0
    # (tenant, meter) -> price, the hot lookup; emptied when a tenant's plan is (re)set.
    _prices: dict[tuple[str, str], MeterPrice] = field(default_factory=dict)

    def plan(self, tenant: str) -> Plan:
        name = self.tenants[tenant].plan if tenant in self.tenants else DEFAULT_PLAN
        if self.plans is not None and name in self.plans:
            return self.plans[name]
        return plan_named(name)

    def apply(self, rec: RecordedEvent) -> None:
        env = rec.envelope
        p = env.payload
        if env.id in self.seen:
            # The same event stored twice in the log (published again outside the duplicate
            # window, say): it was counted the first time.
            self.duplicates += 1
            return
        usage = usage_of(env)
        if usage:
            self.seen.add(env.id)
            period = period_of(env.occurred_at)
            for u in usage:
                if u.verification:
                    self._check(rec, u, period)
                else:
                    self._record(rec, u, period)
        elif isinstance(p, TaskStarted):
            self.tasks.setdefault((env.tenant, p.task_id), TaskRun(env.occurred_at))
            self.dirty_tasks.add((env.tenant, p.task_id))
        elif isinstance(p, TASK_ENDS):
            run = self.tasks.get((env.tenant, p.task_id))
            if run is not None and not run.ended:
                run.ended = True
                self.dirty_tasks.add((env.tenant, p.task_id))
                self.seen.add(env.id)
                quantity = task_ms(run.started_at, env.occurred_at)
                self._record(rec, Usage("task_ms", quantity), period_of(env.occurred_at))
        elif isinstance(p, TenantOnboarded):
            # The payload names the tenant: the gateway may file tenants under its own token.
            self.tenants[p.tenant_id] = Terms(p.plan, _money_or_zero(p.monthly_budget), p.currency)
            self._prices.clear()
            self.dirty_tenants.add(p.tenant_id)
        elif isinstance(p, TenantBudgetChanged):
            self._change_cap(rec, p.tenant_id, _money_or_zero(p.monthly_budget))
        elif isinstance(p, InvoiceCorrected):
            self.seen.add(env.id)
            self._correction(rec, p)
        elif isinstance(p, AnswersCredited):
            self.seen.add(env.id)
            self._credit(rec, p)
            self.ops.append(("credited", (p.quarantine_event_id, p.credits)))
        elif isinstance(p, NodeQuarantined):
            self.ops.append(("quarantine", (env.id, p.node_id, env.occurred_at, rec.sequence)))
        elif isinstance(p, InvoiceDrafted):
            self.ops.append(
                (
                    "draft",
                    (
                        env.tenant,
                        p.period,
                        p.invoice_id,
                        p.revision,
                        parse_money(p.total),
                        p.through_seq,
                        _json(p.lines),
                        rec.sequence,
                    ),
                )
            )
        elif isinstance(p, InvoiceFinalized):
            self._finalize(rec, p)
        elif isinstance(p, PayoutStated):
            self._state_payout(p)
        elif isinstance(p, BudgetExhausted | BudgetRestored):
            spent = parse_money(p.spent) if isinstance(p, BudgetExhausted) else 0
            kind = "exhausted" if isinstance(p, BudgetExhausted) else "restored"
            self.emitted.append(
                Signal(
                    env.id, env.tenant, p.period, kind, spent, parse_money(p.cap),
                    env.causation_id or env.id, env.correlation_id, rec.sequence,
                )
            )  # fmt: skip

    def _record(self, rec: RecordedEvent, u: Usage, period: str) -> None:
        env = rec.envelope
        tenant = env.tenant
        key = (tenant, period, u.meter)
        totals = self.meter_totals.get(key)
        if totals is None:
            totals = self.meter_totals[key] = [0, 0]
        price = self._prices.get((tenant, u.meter))
        if price is None:
            price = self._prices[(tenant, u.meter)] = self.plan(tenant).price_of(u.meter)
        amount = price.marginal(totals[0], u.quantity)
        totals[0] += u.quantity
        totals[1] += amount
        self.dirty_meters.add(key)
        payout = 0
        paid = ""
        if u.node_id:
            payout = self._payout(tenant, period, u, amount)
            paid = billed_period(period, self.last_stated.get(u.owner_account))
        final = self.last_final.get(tenant)
        billed = period if final is None else billed_period(period, final)
        self.records.append([
            env.id, u.meter, rec.sequence, tenant, period, billed, u.quantity, amount,
            env.occurred_at, u.node_id, u.owner_account, paid, payout, u.checks, u.call,
        ])  # fmt: skip
        if amount:
            self._spend(rec, tenant, period, amount)

    def _check(self, rec: RecordedEvent, u: Usage, period: str) -> None:
        """A verification call: its car is paid at the rates, the tenant is charged nothing,
        and what it cost counts against the checked car's payout (see `payable`)."""
        env = rec.envelope
        tenant = env.tenant
        checker = self._node(tenant, period, u)
        meter = u.meter.removeprefix(VERIFICATION)
        if meter.startswith("compute:"):
            model = meter.split(":", 1)[1]
            before = checker.checks_us
            checker.checks_us += u.quantity
            payout = self.rates.compute(checker.checks_us, model)
            payout -= self.rates.compute(before, model)
        else:
            before = checker.checks_uwh
            checker.checks_uwh += u.quantity
            payout = self.rates.energy(checker.checks_uwh) - self.rates.energy(before)
        if u.checks:
            checked = self._node(tenant, period, Usage(meter, 0, u.checks))
            checked.verify_cost += payout
        paid = billed_period(period, self.last_stated.get(u.owner_account))
        final = self.last_final.get(tenant)
        billed = period if final is None else billed_period(period, final)
        self.records.append([
            env.id, u.meter, rec.sequence, tenant, period, billed, u.quantity, 0,
            env.occurred_at, u.node_id, u.owner_account, paid, payout, u.checks, u.call,
        ])  # fmt: skip

    def _node(self, tenant: str, period: str, u: Usage) -> NodeUse:
        key = (tenant, period, u.node_id)
        node = self.node_totals.get(key)
        if node is None:
            node = self.node_totals[key] = NodeUse(u.owner_account)
        elif not node.owner_account:  # first met as a checked car: its owner was not named
            node.owner_account = u.owner_account
        self.dirty_nodes.add(key)
        return node

    def _payout(self, tenant: str, period: str, u: Usage, amount: int) -> int:
        node = self._node(tenant, period, u)
        # Cumulative per (tenant, period, node), floored once: the marginals telescope.
        if u.meter.startswith("compute:"):
            model = u.meter.split(":", 1)[1]
            before = node.compute_us
            node.compute_us += u.quantity
            earned = self.rates.compute(before + u.quantity, model)
            earned -= self.rates.compute(before, model)
        else:
            before = node.energy_uwh
            node.energy_uwh += u.quantity
            earned = self.rates.energy(before + u.quantity) - self.rates.energy(before)
        # Never more than a share of what the tenant paid for this car's work, less what
        # checking it cost (`payable`): the prices keep that true anyway except at rounding
        # (calls rated 0 or 1 micro-unit each) and while a new car's first calls are all
        # verified; the cap makes it true for every car.
        node.earned += earned
        node.revenue += amount
        return node.settle()

    def _budget(self, tenant: str, period: str) -> Budget:
        budget = self.budgets.get((tenant, period))
        if budget is None:
            budget = self.budgets[(tenant, period)] = Budget()
        self.dirty_budgets.add((tenant, period))
        return budget

    def _spend(self, rec: RecordedEvent, tenant: str, period: str, amount: int) -> None:
        budget = self._budget(tenant, period)
        budget.spent += amount
        cap = self.tenants[tenant].cap if tenant in self.tenants else 0
        if not budget.exhausted and cap_reached(budget.spent, cap):
            budget.exhausted = True
            self._signal(rec, tenant, period, "exhausted", budget.spent, cap)

    def _change_cap(self, rec: RecordedEvent, tenant: str, cap: int) -> None:
        terms = self.tenants.setdefault(tenant, Terms())
        terms.cap = cap
        self.dirty_tenants.add(tenant)
        period = period_of(rec.envelope.occurred_at)
        budget = self._budget(tenant, period)
        reached = cap_reached(budget.spent, cap)
        if budget.exhausted and not reached:
            budget.exhausted = False
            self._signal(rec, tenant, period, "restored", budget.spent, cap)
        elif reached and not budget.exhausted:
            budget.exhausted = True
            self._signal(rec, tenant, period, "exhausted", budget.spent, cap)

    def _signal(
        self, rec: RecordedEvent, tenant: str, period: str, kind: str, spent: int, cap: int
    ) -> None:
        signal_id = derived_event_id(rec.envelope.id, f"budget-{kind}:{period}")
        self.signals.append(
            Signal(
                signal_id,
                tenant,
                period,
                kind,
                spent,
                cap,
                rec.envelope.id,
                rec.envelope.correlation_id,
                rec.sequence,
            )
        )

    def _correction(self, rec: RecordedEvent, p: InvoiceCorrected) -> None:
        env = rec.envelope
        billed = billed_period(p.period, self.last_final.get(env.tenant))
        self.records.append([
            env.id, CORRECTION, rec.sequence, env.tenant, p.period, billed, 0,
            parse_money(p.amount), env.occurred_at, "", "", "", 0, "", "",
        ])  # fmt: skip

    def _credit(self, rec: RecordedEvent, p: AnswersCredited) -> None:
        """A quarantined car's held answers: credited to the tenant on its next open
        invoice, withheld from the owner on the next open statement."""
        env = rec.envelope
        billed = billed_period(p.period, self.last_final.get(p.tenant_id))
        paid = billed_period(p.period, self.last_stated.get(p.owner_account))
        self.records.append([
            env.id, CREDIT, rec.sequence, p.tenant_id, p.period, billed, p.calls,
            -parse_money(p.amount), env.occurred_at, p.node_id, p.owner_account, paid,
            -parse_money(p.withheld), "", "",
        ])  # fmt: skip

    def _finalize(self, rec: RecordedEvent, p: InvoiceFinalized) -> None:
        tenant = rec.envelope.tenant
        self.last_final[tenant] = max(p.period, self.last_final.get(tenant, p.period))
        self.ops.append(("final", (tenant, p.period, p.invoice_id, p.revision,
                                   parse_money(p.total), p.through_seq, _json(p.lines),
                                   rec.sequence)))  # fmt: skip
        # Usage of this invoice logged after the invoicer's snapshot goes to the next one.
        later = next_period(p.period)
        self.ops.append(("rebill", (tenant, p.period, p.through_seq, later)))
        for r in self.records:
            if r[TENANT] == tenant and r[BILLED] == p.period and cast(int, r[SEQ]) > p.through_seq:
                r[BILLED] = later

    def _state_payout(self, p: PayoutStated) -> None:
        owner = p.owner_account
        self.last_stated[owner] = max(p.period, self.last_stated.get(owner, p.period))
        self.ops.append(("stated", (owner, p.period, p.statement_id, parse_money(p.total),
                                    p.through_seq, _json(p.lines))))  # fmt: skip
        later = next_period(p.period)
        self.ops.append(("repay", (owner, p.period, p.through_seq, later)))
        for r in self.records:
            if r[OWNER] == owner and r[PAID] == p.period and cast(int, r[SEQ]) > p.through_seq:
                r[PAID] = later

"""Metering, invoices, budgets and payouts (owned by billing).

Money is a decimal string on the wire (never a float); billing computes in integer
micro-units of the currency. Periods are calendar months in UTC, written "YYYY-MM".

Usage itself is not re-published as one event per source event: billing's read model keeps
one usage record per source event (keyed by that event's id), which is what makes a bill
explainable event by event without doubling the log. `UsageRecorded` exists for usage that
has no source event of its own (an operator's adjustment, a credit).
"""

from __future__ import annotations

import msgspec

from macrohard.contracts.envelope import Event


class UsageRecorded(Event, frozen=True, kw_only=True):
    """Usage entered directly (adjustment or credit): `quantity` may be negative."""

    aggregate_type = "meter"

    tenant_id: str
    meter: str
    quantity: int
    reason: str
    # The event this adjusts, when it compensates a specific one.
    adjusts_event_id: str | None = None


class InvoiceLine(msgspec.Struct, frozen=True, kw_only=True):
    """One line: a meter's usage from `usage_period` (earlier than the invoice's own period
    when late usage was carried forward), or a fixed charge/credit (`meter` "base_fee",
    "correction")."""

    meter: str
    usage_period: str
    quantity: int
    unit: str
    amount: str
    description: str = ""


class InvoiceDrafted(Event, frozen=True, kw_only=True):
    """A draft (re-drafted with a higher `revision` when late usage arrives in the grace).

    `through_seq`: the last stream sequence whose usage the lines include.
    """

    aggregate_type = "invoice"

    invoice_id: str
    tenant_id: str
    period: str
    currency: str
    revision: int
    lines: list[InvoiceLine]
    total: str
    through_seq: int


class InvoiceFinalized(Event, frozen=True, kw_only=True):
    """The invoice is closed. Usage of `period` logged after `through_seq` goes to the next one."""

    aggregate_type = "invoice"

    invoice_id: str
    tenant_id: str
    period: str
    currency: str
    revision: int
    lines: list[InvoiceLine]
    total: str
    through_seq: int


class InvoiceCorrected(Event, frozen=True, kw_only=True):
    """A compensating entry for a finalized invoice: never an edit of it. `amount` (negative
    for a credit) lands on the tenant's next open invoice, referring to the corrected one."""

    aggregate_type = "invoice"

    invoice_id: str
    tenant_id: str
    period: str
    amount: str
    reason: str


class AnswersCredited(Event, frozen=True, kw_only=True):
    """A car lost a verification dispute: the answers it gave this tenant in `period` that
    were still held (inside the holding period, never checked) are credited to the tenant
    and withheld from the car's owner. Lands on the tenant's next open invoice as a
    "credit" line, and on the owner's next statement as a negative amount."""

    aggregate_type = "meter"

    tenant_id: str
    period: str  # when the answers were given
    node_id: str
    owner_account: str
    calls: int  # answers credited
    amount: str  # credited to the tenant (positive)
    withheld: str  # not paid to the owner (positive)
    quarantine_event_id: str  # the NodeQuarantined this follows from
    credits: int = 1  # how many AnswersCredited that quarantine owes (one per tenant, period)
    reason: str = ""


class PayoutLine(msgspec.Struct, frozen=True, kw_only=True):
    node_id: str
    usage_period: str
    compute_ms: str
    energy_wh: str
    amount: str


class PayoutStated(Event, frozen=True, kw_only=True):
    """What a car owner earned in a period, node by node."""

    aggregate_type = "payout"

    statement_id: str
    owner_account: str
    period: str
    currency: str
    lines: list[PayoutLine]
    total: str
    through_seq: int


class BudgetExhausted(Event, frozen=True, kw_only=True):
    aggregate_type = "budget"

    tenant_id: str
    period: str
    spent: str
    cap: str


class BudgetRestored(Event, frozen=True, kw_only=True):
    aggregate_type = "budget"

    tenant_id: str
    period: str
    cap: str


EVENTS: tuple[type[Event], ...] = (
    UsageRecorded,
    InvoiceDrafted,
    InvoiceFinalized,
    InvoiceCorrected,
    AnswersCredited,
    PayoutStated,
    BudgetExhausted,
    BudgetRestored,
)

"""Metering, invoices, budgets and payouts (owned by billing).

Money is a decimal string on the wire (never a float); billing computes in integer
micro-units of the currency.
"""

from __future__ import annotations

from macrohard.contracts.envelope import Event


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


EVENTS: tuple[type[Event], ...] = (BudgetExhausted, BudgetRestored)

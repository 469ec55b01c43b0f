"""What other packages may use of billing; nothing else in `macrohard.billing` crosses over.

Readers (the gateway's API, `mh billing`) read billing's read model through these queries;
the one operator change, a correction of a finalized invoice, is appended through
`correct_invoice`. Everything else billing does it does by itself, from the log.
"""

from macrohard.billing.corrections import NotFinal, correct_invoice
from macrohard.billing.domain import period_of
from macrohard.billing.export import invoices_csv, invoices_json
from macrohard.billing.holding import HOLDING_PERIOD, Credit, HeldAnswer, forfeiture, held
from macrohard.billing.money import InvalidAmount
from macrohard.billing.plans import DEFAULT_PLAN, PLANS
from macrohard.billing.projection import BillingProjection
from macrohard.billing.queries import (
    BudgetStatus,
    DailyUsage,
    Economics,
    Invoice,
    LineSource,
    MeterUsage,
    PayoutStatement,
    budget,
    daily_usage,
    economics,
    invoice,
    invoices,
    line_sources,
    node_earnings,
    payout_statements,
    usage,
)
from macrohard.billing.rating import Ledger

__all__ = [
    "DEFAULT_PLAN",
    "HOLDING_PERIOD",
    "PLANS",
    "BillingProjection",
    "BudgetStatus",
    "Credit",
    "DailyUsage",
    "Economics",
    "HeldAnswer",
    "InvalidAmount",
    "Invoice",
    "Ledger",
    "LineSource",
    "MeterUsage",
    "NotFinal",
    "PayoutStatement",
    "budget",
    "correct_invoice",
    "daily_usage",
    "economics",
    "forfeiture",
    "held",
    "invoice",
    "invoices",
    "invoices_csv",
    "invoices_json",
    "line_sources",
    "node_earnings",
    "payout_statements",
    "period_of",
    "usage",
]

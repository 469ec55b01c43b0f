"""Correcting a finalized invoice: the one change billing accepts from an operator.

A finalized invoice is never rewritten; a compensating `InvoiceCorrected` (negative amount: a
credit) lands on the tenant's next open invoice. `mh billing correct` appends it through
here (billing's public face), never through billing's handlers.
"""

from __future__ import annotations

from macrohard.billing.money import format_money, parse_money
from macrohard.billing.queries import invoice_id
from macrohard.contracts import envelope
from macrohard.contracts.billing import InvoiceCorrected
from macrohard.contracts.envelope import Envelope
from macrohard.eventlog.db import Conn
from macrohard.eventlog.store import EventStore


class NotFinal(ValueError):
    """Corrections compensate a finalized invoice; an open or draft one is simply re-drafted."""

    def __init__(self, tenant_id: str, period: str, status: str) -> None:
        super().__init__(f"invoice {invoice_id(tenant_id, period)} is {status}, not final")


async def correct_invoice(
    store: EventStore, conn: Conn, tenant_id: str, period: str, amount: str, reason: str
) -> Envelope:
    """Append a compensating `InvoiceCorrected` (negative amount: a credit) for a finalized
    invoice; it lands on the tenant's next open invoice. Raises NotFinal, InvalidAmount."""
    status = await conn.fetchval(
        "SELECT status FROM billing.invoices WHERE tenant_id = $1 AND period = $2",
        tenant_id,
        period,
    )
    if status != "final":
        raise NotFinal(tenant_id, period, status or "open")
    agg = invoice_id(tenant_id, period)
    env = envelope(
        InvoiceCorrected(invoice_id=agg, tenant_id=tenant_id, period=period,
                         amount=format_money(parse_money(amount)), reason=reason),
        tenant=tenant_id, aggregate_id=agg,
    )  # fmt: skip
    await store.append([env], expected_version=None)
    return env

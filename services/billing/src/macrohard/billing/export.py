"""Invoice export: CSV (one row per line, for spreadsheets and accounting imports) and JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import msgspec

from macrohard.billing.queries import Invoice

CSV_COLUMNS = (
    "invoice_id", "tenant_id", "period", "status", "revision", "currency", "meter",
    "usage_period", "quantity", "unit", "amount", "description", "invoice_total",
)  # fmt: skip


def invoices_csv(invoices: Sequence[Invoice]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for inv in invoices:
        head = (inv.invoice_id, inv.tenant_id, inv.period, inv.status, inv.revision, inv.currency)
        for line in inv.lines:
            writer.writerow((*head, line.meter, line.usage_period, line.quantity, line.unit,
                             line.amount, line.description, inv.total))  # fmt: skip
        if not inv.lines:
            writer.writerow((*head, "", "", 0, "", "0.000000", "", inv.total))
    return out.getvalue()


def invoices_json(invoices: Sequence[Invoice]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(list(invoices)), indent=2) + b"\n"

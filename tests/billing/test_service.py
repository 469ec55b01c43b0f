"""`mh run billing` as its own process: the wiring of main.py against real servers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from macrohard.billing.domain import period_of, period_start
from macrohard.contracts.billing import BudgetExhausted, InvoiceDrafted, InvoiceFinalized
from macrohard.contracts.envelope import RecordedEvent, utcnow
from macrohard.eventlog.store import EventStore
from tests.billing import builders as b

MH = str(Path(sys.executable).with_name("mh"))


async def wait_for(
    store: EventStore, tenant: str, agg: str, agg_id: str, n: int
) -> list[RecordedEvent]:
    # A deadline, not a count of polls: starting `mh run billing` (a fresh interpreter importing
    # every service's contracts) takes well over 15 s on a loaded 2-core machine.
    deadline = asyncio.get_running_loop().time() + 90
    events: list[RecordedEvent] = []
    while asyncio.get_running_loop().time() < deadline:
        events = await store.read_aggregate(tenant, agg, agg_id)
        if len(events) >= n:
            break
        await asyncio.sleep(0.05)
    return events


async def test_the_service_signals_budgets_and_closes_last_month(
    store: EventStore, nats_url: str, database_url: str
) -> None:
    this_month = period_start(period_of(utcnow()))
    last_month = this_month - timedelta(days=20)
    await b.append_all(store, [
        b.onboarded("acme", "payg", "0.05"),
        b.recorded("acme", "steps", 105, last_month),  # 5 billable: 0.025, under the cap
        b.inference("acme", "t1", this_month, compute_ms=120_000),  # 0.06 >= 0.05
    ])  # fmt: skip
    env = {
        **os.environ,
        "MH_NATS_URL": nats_url,
        "MH_DATABASE_URL": database_url,
        "MH_BILLING_GRACE_DAYS": "0",
        "MH_BILLING_INVOICE_INTERVAL_S": "0.2",
    }
    proc = await asyncio.create_subprocess_exec(
        MH, "run", "billing", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        budget = await wait_for(store, "acme", "budget", "acme", 1)
        invoice = await wait_for(store, "acme", "invoice", f"acme-{period_of(last_month)}", 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert [type(e.payload) for e in budget] == [BudgetExhausted]
    assert [type(e.payload) for e in invoice] == [InvoiceDrafted, InvoiceFinalized]
    assert budget[0].payload.period == period_of(this_month)  # type: ignore[attr-defined]
    assert invoice[1].payload.total == "0.025000"  # type: ignore[attr-defined]

"""Files bill as storage: bytes newly stored, per stored GB of the tenant's plan, on the
invoice; the same bytes stored again add nothing."""

from __future__ import annotations

import asyncpg

from macrohard.billing.handlers import Invoicer
from macrohard.billing.queries import invoice
from macrohard.contracts.artifacts import ArtifactStored
from macrohard.contracts.envelope import Envelope, envelope
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.billing import builders as b
from tests.billing.test_invoices import NOV_5

GB = 1_000_000_000


def stored(tenant: str, artifact: str, size: int, new: bool, day: int) -> Envelope:
    event = ArtifactStored(
        artifact_id=artifact * 64, name="orders.csv", content_type="text/csv", size=size,
        source="download", task_id="t1", stored_bytes=size if new else 0,
    )  # fmt: skip
    return envelope(event, tenant=tenant, aggregate_id=artifact * 64, occurred_at=b.at(day))


async def test_stored_bytes_are_on_the_invoice_once(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    await b.append_all(store, [
        b.onboarded("acme"),  # payg: 0.10 per GB stored, none included
        stored("acme", "a", 3 * GB, new=True, day=3),
        stored("acme", "a", 3 * GB, new=False, day=4),  # the same bytes, another task
        stored("acme", "b", GB // 2, new=True, day=5),
    ])  # fmt: skip
    await runner.catch_up()
    invoicer = Invoicer(store, pool)
    await invoicer.run_once(NOV_5)  # the draft, then the final invoice
    await invoicer.run_once(NOV_5)
    await runner.catch_up()
    async with pool.acquire() as conn:
        october = await invoice(conn, "acme", "2026-10")
    assert october is not None and october.status == "final"
    lines = [(x.meter, x.quantity, x.unit, x.amount) for x in october.lines]
    assert lines == [("storage", 3 * GB + GB // 2, "byte", "0.350000")]
    assert october.total == "0.350000"

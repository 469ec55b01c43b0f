"""Invoices end to end on real servers: drafts, late usage, finalization, corrections."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from macrohard.billing.corrections import NotFinal, correct_invoice
from macrohard.billing.handlers import Invoicer
from macrohard.billing.queries import invoice, invoices
from macrohard.contracts.billing import InvoiceDrafted, InvoiceFinalized
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.billing import builders as b

NOV_2 = datetime(2026, 11, 2, tzinfo=UTC)  # October has ended, grace (3 days) running
NOV_5 = datetime(2026, 11, 5, tzinfo=UTC)  # October's grace is over
DEC_5 = datetime(2026, 12, 5, tzinfo=UTC)


def lines_of(inv: object) -> list[tuple[str, str, int, str]]:
    return [(x.meter, x.usage_period, x.quantity, x.amount) for x in inv.lines]  # type: ignore[attr-defined]


async def test_late_usage_lands_in_the_right_invoice(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    invoicer = Invoicer(store, pool)
    # payg steps: 100 free, then 5.00 per 1k (0.005 each).
    await b.append_all(store, [b.onboarded("acme"), b.recorded("acme", "steps", 300, b.at(20))])
    await runner.catch_up()
    assert (await invoicer.run_once(b.at(25))).drafted == 0  # October still running
    assert (await invoicer.run_once(NOV_2)).drafted == 1
    # Late: happened on Oct 31, logged Nov 2, within the grace: it lands in October's draft.
    await b.append_all(store, [b.recorded("acme", "steps", 200, b.at(31, hour=23))])
    await runner.catch_up()
    async with pool.acquire() as conn:
        draft = await invoice(conn, "acme", "2026-10")
    assert draft is not None and draft.status == "draft"
    assert lines_of(draft) == [("steps", "2026-10", 500, "2.000000")]
    result = await invoicer.run_once(NOV_5)  # re-draft (revision 2) and finalize
    assert (result.drafted, result.finalized) == (1, 1)
    # Logged after finalization: goes on November's invoice, referring to October.
    await b.append_all(store, [b.recorded("acme", "steps", 100, b.at(30)),
                               b.recorded("acme", "steps", 10, b.at(6, 11))])  # fmt: skip
    await runner.catch_up()
    async with pool.acquire() as conn:
        october = await invoice(conn, "acme", "2026-10")
        november = await invoice(conn, "acme", "2026-11")
    assert october is not None and october.status == "final" and october.revision == 2
    assert october.total == "2.000000"
    assert november is not None and november.status == "open"
    assert lines_of(november) == [
        ("steps", "2026-10", 100, "0.500000"),  # priced at October's tier position
        ("steps", "2026-11", 10, "0.000000"),  # November's own free quantity
    ]
    assert november.lines[0].description == "late usage from 2026-10"
    records = await store.read_aggregate("acme", "invoice", "acme-2026-10")
    assert [r.type for r in records] == ["InvoiceDrafted", "InvoiceDrafted", "InvoiceFinalized"]
    final = records[-1].payload
    assert isinstance(final, InvoiceFinalized) and final.total == "2.000000"
    assert isinstance(records[0].payload, InvoiceDrafted) and records[0].payload.revision == 1


async def test_usage_logged_between_snapshot_and_finalization_moves_to_the_next_invoice(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    await b.append_all(store, [b.onboarded("acme"), b.recorded("acme", "steps", 150, b.at(9))])
    await runner.catch_up()
    # Logged before the finalization, but after the position the invoicer read.
    await b.append_all(store, [b.recorded("acme", "steps", 50, b.at(10))])
    await Invoicer(store, pool).run_once(NOV_5)
    await runner.catch_up()
    async with pool.acquire() as conn:
        october = await invoice(conn, "acme", "2026-10")
        november = await invoice(conn, "acme", "2026-11")
    assert october is not None and lines_of(october) == [("steps", "2026-10", 150, "0.250000")]
    assert november is not None and lines_of(november) == [("steps", "2026-10", 50, "0.250000")]
    # And a replay puts it in the same place.
    await runner.rebuild()
    await runner.catch_up()
    async with pool.acquire() as conn:
        assert await invoice(conn, "acme", "2026-11") == november
        assert await invoice(conn, "acme", "2026-10") == october


async def test_a_correction_is_a_compensating_entry_on_the_next_invoice(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    await b.append_all(store, [b.onboarded("acme"), b.recorded("acme", "steps", 1100, b.at(9))])
    await runner.catch_up()
    await Invoicer(store, pool).run_once(NOV_5)
    await runner.catch_up()
    async with pool.acquire() as conn:
        with pytest.raises(NotFinal):  # November is still open: it is re-drafted, not corrected
            await correct_invoice(store, conn, "acme", "2026-11", "-1", "nope")
        await correct_invoice(store, conn, "acme", "2026-10", "-1.25", "goodwill")
    await runner.catch_up()
    await Invoicer(store, pool).run_once(DEC_5)
    await runner.catch_up()
    async with pool.acquire() as conn:
        listed = await invoices(conn, "acme")
    assert [(i.period, i.status, i.total) for i in listed] == [
        ("2026-10", "final", "5.000000"),  # never edited
        ("2026-11", "final", "-1.250000"),
    ]
    assert lines_of(listed[1]) == [("correction", "2026-10", 0, "-1.250000")]

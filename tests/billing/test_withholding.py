"""A quarantined car's held answers, on real NATS and PostgreSQL: the withholder credits
the tenant for every unverified answer still held, withholds the owner's pay for them,
traces each in its task's log to the intent it produced, and does it once."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import asyncpg

from macrohard.billing.queries import invoice, line_sources
from macrohard.billing.withholding import Withholder
from macrohard.contracts import PLATFORM_TENANT, envelope
from macrohard.contracts.agent import InferenceRetracted, IntentEmitted
from macrohard.contracts.billing import AnswersCredited
from macrohard.contracts.envelope import Envelope
from macrohard.contracts.fleet import NodeQuarantined
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.billing import builders as b

LIAR, HONEST = "car-9", "car-2"


def answer(task: str, day: int, node: str = LIAR, checks: str = "") -> Envelope:
    return b.inference("acme", task, b.at(day), compute_ms=60_000.0, energy_wh=0.2, node=node,
                       owner=f"owner-{node}", model="planner", checks=checks)  # fmt: skip


async def test_a_quarantined_cars_held_unverified_answers_are_credited_and_traced(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    suspect = answer("t-suspect", 10)  # never checked, 5 days before the quarantine
    intent = b.step("acme", "t-suspect", 1, b.at(10, minute=1))
    await b.append_all(store, [
        b.onboarded("acme"),
        answer("t-old", 1),  # 14 days and more before: released, it stands
        suspect, intent,
        answer("t-checked", 12, node=HONEST, checks=LIAR), answer("t-checked", 12),  # verified
        answer("t-other", 11, node=HONEST),  # another car's answer: not its business
    ])  # fmt: skip
    quarantine = envelope(
        NodeQuarantined(node_id=LIAR, reason="lost a dispute", disputes_lost=1),
        tenant=PLATFORM_TENANT, aggregate_id=LIAR, occurred_at=b.at(15),
    )  # fmt: skip
    await store.append([quarantine], expected_version=None)
    await runner.catch_up()
    async with pool.acquire() as conn:
        charged = cast(int, await conn.fetchval(
            "SELECT sum(amount_micros) FROM billing.usage_records WHERE event_id = $1",
            suspect.id,
        ))  # fmt: skip
        paid = cast(int, await conn.fetchval(
            "SELECT sum(payout_micros) FROM billing.usage_records WHERE event_id = $1",
            suspect.id,
        ))  # fmt: skip
        before = await invoice(conn, "acme", "2026-10")
    assert charged > 0 and paid > 0 and before is not None

    assert await Withholder(store, pool).run_once() == 2  # one trace, one credit
    await runner.catch_up()

    # Traced in the task's log: the answer, the step and the intent it produced.
    [traced] = [r for r in await store.read_aggregate("acme", "task", "t-suspect")
                if isinstance(r.payload, InferenceRetracted)]  # fmt: skip
    p = traced.payload
    assert isinstance(p, InferenceRetracted)
    assert (p.step, p.model, p.node_id) == (1, "planner", LIAR)
    assert (p.inference_event_id, p.intent_event_id) == (suspect.id, intent.id)
    assert p.quarantine_event_id == quarantine.id and traced.envelope.causation_id == quarantine.id
    assert isinstance(intent.payload, IntentEmitted)
    for task in ("t-old", "t-checked", "t-other"):
        events = await store.read_aggregate("acme", "task", task)
        assert not any(isinstance(r.payload, InferenceRetracted) for r in events)

    # Credited on the tenant's invoice, withheld from the owner: exactly that answer.
    [credited] = [r for r in await store.read_aggregate("acme", "meter", LIAR)
                  if isinstance(r.payload, AnswersCredited)]  # fmt: skip
    c = credited.payload
    assert isinstance(c, AnswersCredited)
    assert (c.calls, c.period, c.owner_account) == (1, "2026-10", f"owner-{LIAR}")
    async with pool.acquire() as conn:
        after = await invoice(conn, "acme", "2026-10")
        assert after is not None
        [line] = [x for x in after.lines if x.meter == "credit"]
        sources = await line_sources(conn, "acme", "2026-10", "credit", "2026-10")
        owed = dict(await conn.fetch(
            """SELECT node_id, sum(payout_micros) FROM billing.usage_records
               WHERE node_id <> '' GROUP BY node_id"""
        ))  # fmt: skip
        settled = await conn.fetchrow("SELECT credits_seen, credits FROM billing.quarantines")
    assert line.quantity == 1 and line.unit == "answer" and line.description
    assert [s.event_id for s in sources] == [credited.envelope.id]
    assert after.lines[-1] == line  # credits come last, with corrections
    cents = lambda money: round(float(money) * 1_000_000)  # noqa: E731
    assert cents(after.total) == cents(before.total) - charged
    async with pool.acquire() as conn:
        liar_paid = dict(await conn.fetch(
            """SELECT event_id::text, sum(payout_micros) FROM billing.usage_records
               WHERE node_id = $1 AND meter NOT LIKE 'verification:%' GROUP BY 1""", LIAR,
        ))  # fmt: skip
    # The owner keeps the pay of the released and the checked answers, not the suspect one.
    assert liar_paid[credited.envelope.id] == -paid
    assert owed[LIAR] == sum(v for k, v in liar_paid.items() if k != credited.envelope.id) - paid
    assert tuple(settled) == (1, 1)

    # Settled: neither this withholder nor a new one (another replica) appends again.
    assert await Withholder(store, pool).run_once() == 0


async def test_a_car_whose_held_answers_were_all_checked_owes_nothing(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    await b.append_all(store, [
        b.onboarded("acme"),
        answer("t1", 12, node=HONEST, checks=LIAR), answer("t1", 12),
    ])  # fmt: skip
    await store.append([envelope(
        NodeQuarantined(node_id=LIAR, reason="lost a dispute", disputes_lost=1),
        tenant=PLATFORM_TENANT, aggregate_id=LIAR, occurred_at=b.at(12) + timedelta(hours=1),
    )], expected_version=None)  # fmt: skip
    await runner.catch_up()
    assert await Withholder(store, pool).run_once() == 0
    events = await store.read_aggregate("acme", "task", "t1")
    assert not any(isinstance(r.payload, InferenceRetracted) for r in events)

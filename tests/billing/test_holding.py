"""Held earnings, pure: what a car quarantined for lying forfeits and what its tenants get
back, decided exhaustively over answers verified or not, in or out of the holding period;
and how rating books the resulting `AnswersCredited`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import cast

from macrohard.billing.domain import CREDIT
from macrohard.billing.holding import (
    HOLDING_PERIOD,
    HeldAnswer,
    forfeited,
    forfeiture,
    held,
)
from macrohard.billing.rating import Ledger
from macrohard.contracts import envelope
from macrohard.contracts.billing import AnswersCredited
from macrohard.contracts.envelope import RecordedEvent
from tests.billing import builders as b

Q = datetime(2026, 10, 20, 12, tzinfo=UTC)  # the quarantine
HOLD = timedelta(days=14)


def answer(tenant: str, age: timedelta, verified: bool, amount: int = 100) -> HeldAnswer:
    at = Q - age
    return HeldAnswer(
        tenant_id=tenant, usage_period=f"{at.year:04d}-{at.month:02d}", occurred_at=at,
        amount=amount, payout=amount // 2, verified=verified, call=f"t-{tenant}:{age}:planner",
    )  # fmt: skip


def test_an_answer_is_held_for_the_holding_period_only() -> None:
    at = Q - HOLD
    assert held(at, at) and held(at, at + HOLD - timedelta(microseconds=1))
    assert not held(at, at + HOLD) and not held(at, at + HOLD * 2)
    assert HOLDING_PERIOD == HOLD


AGES = (timedelta(0), timedelta(hours=1), HOLD - timedelta(seconds=1), HOLD, HOLD * 2)


def test_exactly_the_unverified_answers_still_held_are_forfeited() -> None:
    for age, verified in itertools.product(AGES, (False, True)):
        a = answer("acme", age, verified)
        assert forfeited(a, Q, HOLD) == (not verified and age < HOLD), (age, verified)


def test_credits_sum_per_tenant_and_period_over_every_mix() -> None:
    pool = [answer(t, age, v, amount=10 + i) for i, (t, age, v) in
            enumerate(itertools.product(("acme", "globex"), AGES, (False, True)))]  # fmt: skip
    for n in range(len(pool) + 1):
        for mix in itertools.combinations(pool, n) if n <= 3 else [tuple(pool[:n])]:
            credits = forfeiture(mix, Q, HOLD)
            due = [a for a in mix if forfeited(a, Q, HOLD)]
            assert sum(c.amount for c in credits) == sum(a.amount for a in due)
            assert sum(c.withheld for c in credits) == sum(a.payout for a in due)
            assert sum(c.calls for c in credits) == len(due)
            keys = [(c.tenant_id, c.usage_period) for c in credits]
            assert keys == sorted(set(keys))  # one credit per (tenant, period), stable
            for c in credits:
                mine = [a for a in due if (a.tenant_id, a.usage_period) == keys[credits.index(c)]]
                assert c.answers == tuple(sorted(a.call for a in mine))


def test_a_car_whose_held_answers_were_all_verified_forfeits_nothing() -> None:
    mix = [answer("acme", timedelta(hours=h), True) for h in range(5)]
    mix.append(answer("acme", HOLD * 3, False))  # released long ago: it stands
    assert forfeiture(mix, Q, HOLD) == []


def test_rating_books_a_credit_for_the_tenant_and_withholds_from_the_owner() -> None:
    ledger = Ledger()
    events = [
        b.onboarded("acme"),
        b.inference("acme", "t1", b.at(3), compute_ms=60_000.0, node="car-9", owner="o-9",
                    model="planner"),
    ]  # fmt: skip
    credit = AnswersCredited(
        tenant_id="acme", period="2026-10", node_id="car-9", owner_account="o-9", calls=1,
        amount="0.015000", withheld="0.012000", quarantine_event_id="q1", reason="test",
    )  # fmt: skip
    events.append(envelope(credit, tenant="acme", aggregate_id="car-9", occurred_at=b.at(4)))
    events.append(events[-1])  # the same credit again (appended twice): booked once
    for seq, env in enumerate(events, 1):
        ledger.apply(RecordedEvent(sequence=seq, subject="", envelope=env))
    [row] = [r for r in ledger.records if r[1] == CREDIT]
    assert (row[3], row[4], row[5], row[6]) == ("acme", "2026-10", "2026-10", 1)
    assert (row[7], row[9], row[10], row[11], row[12]) == (-15_000, "car-9", "o-9", "2026-10",
                                                           -12_000)  # fmt: skip
    assert ledger.duplicates == 1
    charged = sum(cast(int, r[7]) for r in ledger.records if r[1] != CREDIT)
    assert charged > 15_000  # the credit takes back the answer, not the rest of the bill

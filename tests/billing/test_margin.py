"""Economics that hold per car: whatever the plans, models and usage mix, every car's work
earns the platform more than its owner is paid for it (the pure rating step)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from macrohard.billing.plans import MAX_PAYOUT_PCT, PAYOUT_RATES, PLANS
from macrohard.billing.rating import Ledger
from macrohard.contracts.envelope import Envelope, RecordedEvent
from tests.billing import builders as b

TENANTS = ("acme", "globex", "initech")
CARS = ("car-0", "car-1", "car-2", "car-3")
# The models with their own rates, and one without (rated and paid as the default).
MODELS = (*PAYOUT_RATES.per_model, "planner-small")

calls = st.lists(
    st.tuples(
        st.sampled_from(TENANTS),
        st.sampled_from(CARS),
        st.sampled_from(MODELS),
        # From a few microseconds (rated 0 or 1 micro-unit) to hours (deep volume tiers).
        st.one_of(st.floats(0.001, 50.0), st.floats(50.0, 20_000_000.0)),
        st.one_of(st.just(0.0), st.floats(0.0001, 500.0)),
    ),
    min_size=1,
    max_size=60,
)


def rate(plans: tuple[str, ...], mix: list[tuple[str, str, str, float, float]]) -> Ledger:
    t0 = b.at(2)
    envs: list[Envelope] = [b.onboarded(t, p) for t, p in zip(TENANTS, plans, strict=True)]
    for i, (tenant, car, model, compute_ms, energy_wh) in enumerate(mix):
        envs.append(
            b.inference(tenant, f"t{i}", t0 + timedelta(minutes=i), compute_ms=compute_ms,
                        energy_wh=energy_wh, node=car, owner=f"owner-{car}", model=model)
        )  # fmt: skip
    ledger = Ledger()
    for seq, env in enumerate(envs, 1):
        ledger.apply(RecordedEvent(sequence=seq, subject="", envelope=env))
    return ledger


@settings(max_examples=150, deadline=None)
@given(st.tuples(*(st.sampled_from(sorted(PLANS)) for _ in TENANTS)), calls)
def test_every_cars_work_earns_more_than_its_owner_is_paid(
    plans: tuple[str, ...], mix: list[tuple[str, str, str, float, float]]
) -> None:
    ledger = rate(plans, mix)
    revenue: dict[str, int] = defaultdict(int)
    payout: dict[str, int] = defaultdict(int)
    for r in ledger.records:
        revenue[cast(str, r[9])] += cast(int, r[7])
        payout[cast(str, r[9])] += cast(int, r[12])
    for car in revenue:
        if revenue[car] == 0:  # only calls of a few microseconds: nothing earned, none paid
            assert payout[car] == 0
        else:
            assert revenue[car] > payout[car] >= 0
            assert payout[car] * 100 <= revenue[car] * MAX_PAYOUT_PCT


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(PLANS)),
    st.sampled_from(MODELS),
    st.lists(st.floats(1000.0, 5_000_000.0), min_size=1, max_size=20),
)
def test_the_payout_cap_is_a_rounding_guard_not_a_pay_cut(
    plan: str, model: str, compute_ms: list[float]
) -> None:
    # Calls of a compute-second or more are paid at the owner's full rate on every plan:
    # the margin comes from the prices, not from shaving owners.
    mix = [("acme", "car-0", model, ms, 0.0) for ms in compute_ms]
    ledger = rate((plan, "payg", "payg"), mix)
    [use] = ledger.node_totals.values()
    paid = sum(cast(int, r[12]) for r in ledger.records)
    assert paid == PAYOUT_RATES.compute(use.compute_us, model)

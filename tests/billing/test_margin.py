"""Economics that hold per car: whatever the plans, models, usage mix and share of calls
verified on other cars, every car's work earns the platform more than its owner and the
owners of the cars that checked it are paid for it (the pure rating step)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from macrohard.billing.domain import VERIFICATION
from macrohard.billing.plans import COVERED_VERIFY_PCT, MAX_PAYOUT_PCT, PAYOUT_RATES, PLANS
from macrohard.billing.rating import Ledger
from macrohard.contracts.envelope import Envelope, RecordedEvent
from tests.billing import builders as b

TENANTS = ("acme", "globex", "initech")
CARS = ("car-0", "car-1", "car-2", "car-3")
# The models with their own rates, and one without (rated and paid as the default).
MODELS = (*PAYOUT_RATES.per_model, "planner-small")
# Record columns (see rating.Record).
AMOUNT, NODE, PAYOUT, CHECKS, METER, TENANT = 7, 9, 12, 13, 1, 3

Call = tuple[str, str, str, float, float, float | None]

# (tenant, car, model, compute_ms, energy_wh, check): `check` is None for a call nobody
# re-executed, else the checking car's compute relative to the checked call's (a
# deterministic model: the same work, on a car a little faster or slower).
calls = st.lists(
    st.tuples(
        st.sampled_from(TENANTS),
        st.sampled_from(CARS),
        st.sampled_from(MODELS),
        # From a few microseconds (rated 0 or 1 micro-unit) to hours (deep volume tiers).
        st.one_of(st.floats(0.001, 50.0), st.floats(50.0, 20_000_000.0)),
        st.one_of(st.just(0.0), st.floats(0.0001, 500.0)),
        st.one_of(st.none(), st.floats(0.5, 1.5)),
    ),
    min_size=1,
    max_size=60,
)


def rate(plans: tuple[str, ...], mix: list[Call]) -> Ledger:
    """The calls as the planner appends them: the check (if any, on the next car), then
    the answer used."""
    t0 = b.at(2)
    envs: list[Envelope] = [b.onboarded(t, p) for t, p in zip(TENANTS, plans, strict=True)]
    for i, (tenant, car, model, compute_ms, energy_wh, check) in enumerate(mix):
        when = t0 + timedelta(minutes=i)
        if check is not None:
            checker = CARS[(CARS.index(car) + 1) % len(CARS)]
            envs.append(
                b.inference(tenant, f"t{i}", when, compute_ms=compute_ms * check,
                            energy_wh=energy_wh * check, node=checker,
                            owner=f"owner-{checker}", model=model, checks=car)
            )  # fmt: skip
        envs.append(
            b.inference(tenant, f"t{i}", when, compute_ms=compute_ms, energy_wh=energy_wh,
                        node=car, owner=f"owner-{car}", model=model)
        )  # fmt: skip
    ledger = Ledger()
    for seq, env in enumerate(envs, 1):
        ledger.apply(RecordedEvent(sequence=seq, subject="", envelope=env))
    return ledger


Key = tuple[str, str]  # (tenant, car): the cap holds per tenant's use of a car


def per_car(ledger: Ledger) -> tuple[dict[Key, int], dict[Key, int], dict[Key, int]]:
    """Per (tenant, car): what the tenant was charged for the car's answers, what its owner
    was paid for them, and what the checks of those answers were paid."""
    revenue: dict[Key, int] = defaultdict(int)
    paid: dict[Key, int] = defaultdict(int)
    checks: dict[Key, int] = defaultdict(int)
    for r in ledger.records:
        tenant = cast(str, r[TENANT])
        if cast(str, r[METER]).startswith(VERIFICATION):
            assert r[AMOUNT] == 0  # a check is never charged to the tenant
            checks[(tenant, cast(str, r[CHECKS]))] += cast(int, r[PAYOUT])
        else:
            revenue[(tenant, cast(str, r[NODE]))] += cast(int, r[AMOUNT])
            paid[(tenant, cast(str, r[NODE]))] += cast(int, r[PAYOUT])
    return revenue, paid, checks


def checks_until_last_raise(ledger: Ledger, key: Key) -> int:
    """What checks of the car's answers had cost when its owner's pay last rose."""
    cost = last = 0
    for r in ledger.records:
        if cast(str, r[METER]).startswith(VERIFICATION):
            cost += cast(int, r[PAYOUT]) if (r[TENANT], r[CHECKS]) == key else 0
        elif (r[TENANT], r[NODE]) == key and cast(int, r[PAYOUT]) > 0:
            last = cost
    return last


def checked_share(mix: list[Call], key: Key) -> float:
    mine = [c for c in mix if (c[0], c[1]) == key]
    return sum(c[5] is not None for c in mine) / len(mine) if mine else 0.0


@settings(max_examples=200, deadline=None)
@given(st.tuples(*(st.sampled_from(sorted(PLANS)) for _ in TENANTS)), calls)
def test_every_cars_work_earns_more_than_its_owners_and_its_checkers_are_paid(
    plans: tuple[str, ...], mix: list[Call]
) -> None:
    ledger = rate(plans, mix)
    revenue, paid, checks = per_car(ledger)
    for key in {(c[0], c[1]) for c in mix}:
        if revenue[key] == 0:  # only calls of a few microseconds: nothing earned, none paid
            assert paid[key] == 0
            continue
        # The owner is paid at most the cap less what checking the car had cost by then.
        assert (
            0
            <= (paid[key] + checks_until_last_raise(ledger, key)) * 100
            <= (revenue[key] * MAX_PAYOUT_PCT)
        )
        # Checks are charged to the checked car before its answer is paid, so its work
        # keeps a margin at any verification share (a new car's every call included).
        assert revenue[key] >= paid[key] + checks[key], key
        if checked_share(mix, key) * 100 <= COVERED_VERIFY_PCT:
            assert revenue[key] > paid[key] + checks[key], key


@settings(max_examples=100, deadline=None)
@given(st.tuples(*(st.sampled_from(sorted(PLANS)) for _ in TENANTS)), calls)
def test_the_platform_earns_a_margin_per_model_whatever_the_verification_share(
    plans: tuple[str, ...], mix: list[Call]
) -> None:
    # Every call verified included: a new car's checks are paid out of its own earnings.
    ledger = rate(plans, mix)
    revenue: dict[str, int] = defaultdict(int)
    payouts: dict[str, int] = defaultdict(int)
    for r in ledger.records:
        meter = cast(str, r[METER]).removeprefix(VERIFICATION)
        model = meter.split(":", 1)[1] if meter.startswith("compute:") else meter
        revenue[model] += cast(int, r[AMOUNT])
        payouts[model] += cast(int, r[PAYOUT])
    assert sum(revenue.values()) >= sum(payouts.values())


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(PLANS)),
    st.sampled_from(MODELS),
    st.lists(st.floats(1000.0, 5_000_000.0), min_size=1, max_size=20),
    st.integers(0, COVERED_VERIFY_PCT),
)
def test_the_payout_cap_is_a_rounding_guard_not_a_pay_cut(
    plan: str, model: str, compute_ms: list[float], verified_pct: int
) -> None:
    # Calls of a compute-second or more are paid at the owner's full rate on every plan,
    # with up to the covered share of their compute checked on another car: the margin comes from
    # the prices, not from shaving owners, and the markups pay for the checks.
    # The covered share is of the compute checked, not of the calls: one check of a long
    # call can cost more than many short ones (found by this test with one check in six calls
    # holding a third of the compute). Check calls while the checked compute stays covered.
    budget, checked = sum(compute_ms) * verified_pct / 100, 0.0
    mix: list[Call] = []
    for ms in compute_ms:
        check = 1.0 if checked + ms <= budget else None
        checked += ms if check else 0.0
        mix.append(("acme", "car-0", model, ms, 0.0, check))
    ledger = rate((plan, "payg", "payg"), mix)
    use = ledger.node_totals[("acme", "2026-10", "car-0")]
    paid = sum(cast(int, r[PAYOUT]) for r in ledger.records if r[NODE] == "car-0")
    assert paid == PAYOUT_RATES.compute(use.compute_us, model)


def test_a_check_is_paid_to_its_car_and_charged_to_nobody() -> None:
    mix: list[Call] = [("acme", "car-0", "planner", 60_000.0, 0.5, 1.0)]
    ledger = rate(("payg", "payg", "payg"), mix)
    check, check_energy, answer, energy = ledger.records
    assert (answer[METER], check[METER]) == ("compute:planner", "verification:compute:planner")
    assert check_energy[METER] == "verification:energy_uwh"
    assert check[NODE] == "car-1" and check[CHECKS] == "car-0" and check[AMOUNT] == 0
    assert check[PAYOUT] == PAYOUT_RATES.compute(60 * 10**6, "planner") == 12_000
    # The tenant's usage and budget know only the answer used.
    assert ledger.meter_totals[("acme", "2026-10", "compute:planner")][0] == 60 * 10**6
    assert not any(k[2].startswith(VERIFICATION) for k in ledger.meter_totals)
    assert ledger.budgets[("acme", "2026-10")].spent == cast(int, answer[AMOUNT]) + cast(
        int, energy[AMOUNT]
    )
    # The checked car's owner carries the check: its pay waits while the cap binds.
    use = ledger.node_totals[("acme", "2026-10", "car-0")]
    assert use.verify_cost == cast(int, check[PAYOUT]) + cast(int, check_energy[PAYOUT])
    assert use.paid * 100 <= use.revenue * MAX_PAYOUT_PCT

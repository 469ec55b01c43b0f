"""The registry's verification policy, pure: how much of a car's work is re-executed on
another car, from what the platform measured of it."""

from __future__ import annotations

import pytest

from macrohard.node_registry.reputation import (
    DEFAULT_VERIFY_SHARE,
    FIRST_CALLS_VERIFIED,
    MAX_UNCHECKED,
    TRUST_CHECKS,
    Reputation,
    answered,
    checked,
    quarantine_due,
    verify_share,
)


def record(verified: int, unchecked: int = 0, **kw: int) -> Reputation:
    rep = Reputation(**kw)
    for _ in range(verified):
        answered(rep)
        checked(rep)
    for _ in range(unchecked):
        answered(rep)
    return rep


def test_a_new_cars_first_calls_are_all_checked() -> None:
    for v in range(FIRST_CALLS_VERIFIED):
        assert verify_share(record(v, unchecked=3)) == 1.0
    assert verify_share(record(FIRST_CALLS_VERIFIED)) < 1.0


def test_trust_grows_with_checks_passed_down_to_the_floor() -> None:
    shares = [verify_share(record(v)) for v in range(FIRST_CALLS_VERIFIED, 400)]
    assert shares == sorted(shares, reverse=True)  # never rises with more checks passed
    assert shares[0] == pytest.approx(TRUST_CHECKS / (TRUST_CHECKS + FIRST_CALLS_VERIFIED))
    assert shares[-1] == DEFAULT_VERIFY_SHARE
    assert verify_share(record(40)) == pytest.approx(TRUST_CHECKS / (TRUST_CHECKS + 40))


def test_unverified_volume_brings_a_check() -> None:
    # However trusted, a car that served MAX_UNCHECKED answers unchecked is checked next.
    assert verify_share(record(300, unchecked=MAX_UNCHECKED - 1)) == DEFAULT_VERIFY_SHARE
    assert verify_share(record(300, unchecked=MAX_UNCHECKED)) == 1.0
    rep = record(300, unchecked=MAX_UNCHECKED)
    checked(rep)
    assert rep.unchecked == 0 and verify_share(rep) == DEFAULT_VERIFY_SHARE


def test_a_lost_dispute_means_every_call_checked_and_quarantine() -> None:
    rep = record(300)
    assert not quarantine_due(rep)
    rep.disputes_lost = 1
    assert verify_share(rep) == 1.0 and quarantine_due(rep)


def test_a_car_that_vanishes_mid_work_is_checked_more() -> None:
    steady = verify_share(record(300, leases=100, leases_lost=0))
    flaky = verify_share(record(300, leases=100, leases_lost=25))
    assert flaky == pytest.approx(steady * 4)  # reliability 0.75: two steps under 0.9
    assert verify_share(record(300, leases=100, leases_lost=90)) == 1.0

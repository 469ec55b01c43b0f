"""The offline day of a fleet (`mh fleet simulate --dishonest`), at small scale: its figures
are consistent and its liars are caught by the platform's own verification."""

from __future__ import annotations

import pytest

from macrohard.bench.fleet_day import DayFigures, simulate_day


@pytest.fixture(scope="module")
def day() -> DayFigures:
    return simulate_day(3000, 24.0, 0.05, seed=7)


def test_a_day_of_cars_parks_leases_and_bills(day: DayFigures) -> None:
    # Cars are parked most of the day (commutes and errands aside) and serve work.
    assert 0.9 < day.parked_share < 0.99
    assert day.leases > day.nodes and day.calls > day.leases
    # Every car's work earned the platform a margin, liars' withheld work included.
    assert day.revenue > day.payouts > 0


def test_dishonest_cars_are_caught_and_wrong_answers_mostly_unpaid(day: DayFigures) -> None:
    assert 0.03 * day.nodes < day.dishonest < 0.07 * day.nodes
    # Every car's first calls are all verified: most liars are caught on the first day.
    assert day.dishonest_detected_share > 0.9
    assert day.wrong_answers > 0 and day.wrong_answers_billed < day.wrong_answers / 2
    assert day.overpaid_share < 0.001


def test_an_honest_fleet_has_no_wrong_answers() -> None:
    day = simulate_day(500, 24.0, 0.0, seed=3)
    assert (day.dishonest, day.wrong_answers, day.wrong_answers_billed) == (0, 0, 0)
    assert day.overpaid_share == 0.0 and day.dishonest_detected_share == 1.0

"""The simulated fleet's days look like real parking: ~95% parked, commute peaks, night
charging."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from macrohard.node_agent.simulation import (
    HOUR,
    battery_after,
    car_trips,
    next_departure,
    parked_fraction,
)


def test_a_fleet_is_parked_about_95_percent_of_the_day() -> None:
    fractions = [parked_fraction(car_trips(seed, 7), 7 * 24 * HOUR) for seed in range(500)]
    mean = sum(fractions) / len(fractions)
    assert 0.93 <= mean <= 0.97, mean


def test_departures_cluster_in_the_morning_and_evening_commutes() -> None:
    by_hour: Counter[int] = Counter()
    for seed in range(500):
        for trip in car_trips(seed, 1):
            by_hour[int(trip.depart_s // HOUR)] += 1
    total = sum(by_hour.values())
    commute = sum(by_hour[h] for h in (6, 7, 8, 16, 17, 18))
    night = sum(by_hour[h] for h in (0, 1, 2, 3, 23))
    assert commute / total > 0.6
    assert night == 0
    # Evening arrivals plug in: charging happens at night.
    plugged = [t for s in range(200) for t in car_trips(s, 1) if t.plug_in]
    assert plugged and all(t.arrive_s >= 15 * HOUR for t in plugged)


@given(seed=st.integers(0, 10_000), days=st.integers(1, 5))
def test_trips_never_overlap_and_next_departure_is_the_next_one(seed: int, days: int) -> None:
    trips = car_trips(seed, days)
    for a, b in itertools.pairwise(trips):
        assert a.depart_s < a.arrive_s <= b.depart_s
    if trips:
        assert next_departure(trips, trips[0].depart_s - 1) == trips[0].depart_s
        assert next_departure(trips, trips[-1].depart_s) is None


@given(soc=st.floats(0, 1), seconds=st.floats(0, 48 * HOUR))
def test_battery_stays_in_range_and_moves_the_right_way(soc: float, seconds: float) -> None:
    driving = battery_after(soc, seconds, driving=True, charging=False)
    charging = battery_after(soc, seconds, driving=False, charging=True)
    assert 0.0 <= driving <= soc <= charging <= 1.0

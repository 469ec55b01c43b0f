"""Realistic days of simulated cars, without I/O: when each car drives, parks and charges.

A commuter leaves home around 07:45 and work around 17:30 (both normally distributed, the
two rush hours), drives ~25 minutes each way, sometimes runs a midday errand, and often
plugs in when it gets home in the evening: night charging. Some cars do not commute that
day. The result is a fleet parked about 95% of the time with departures clustered in the
commutes, which is what the fleet simulator replays against a running registry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

HOUR = 3600.0

DRAIN_DRIVING_PER_H = 0.15  # of the battery, per hour driven
DRAIN_PARKED_PER_H = 0.004  # the inference chip and standby
CHARGE_PER_H = 0.08  # an 11 kW wallbox on a 75 kWh pack, roughly


@dataclass(frozen=True, slots=True)
class Trip:
    """A drive from `depart_s` to `arrive_s` (seconds into the simulation); `plug_in` says
    whether the car is plugged in on arrival (charging until its next departure)."""

    depart_s: float
    arrive_s: float
    plug_in: bool = False


def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def day_trips(rng: random.Random, day: int) -> list[Trip]:
    """The trips of one car on day `day` (0-based), sorted and non-overlapping."""
    base = day * 24 * HOUR
    trips: list[Trip] = []
    commutes = rng.random() < 0.85
    if commutes:
        leave = _clip(rng.gauss(7.75, 0.6), 5.5, 10.5) * HOUR
        drive = _clip(rng.gauss(25, 8), 8, 60) * 60
        trips.append(Trip(base + leave, base + leave + drive))
    if rng.random() < 0.3:
        errand = _clip(rng.gauss(12.5, 1.0), 10.5, 15.0) * HOUR
        drive = _clip(rng.gauss(15, 5), 5, 30) * 60
        stay = _clip(rng.gauss(40, 15), 10, 90) * 60
        trips.append(Trip(base + errand, base + errand + drive))
        trips.append(Trip(base + errand + drive + stay, base + errand + 2 * drive + stay))
    if commutes:
        leave = _clip(rng.gauss(17.5, 0.8), 15.5, 20.5) * HOUR
        drive = _clip(rng.gauss(28, 8), 8, 60) * 60
        trips.append(Trip(base + leave, base + leave + drive, plug_in=rng.random() < 0.6))
    trips.sort(key=lambda t: t.depart_s)
    # Drop any trip that would start before the previous one ended (rare overlaps).
    out: list[Trip] = []
    for t in trips:
        if not out or t.depart_s >= out[-1].arrive_s:
            out.append(t)
    return out


def car_trips(seed: int, days: int) -> list[Trip]:
    rng = random.Random(seed)
    return [t for d in range(days) for t in day_trips(rng, d)]


def parked_fraction(trips: list[Trip], horizon_s: float) -> float:
    driving = sum(min(t.arrive_s, horizon_s) - t.depart_s for t in trips if t.depart_s < horizon_s)
    return 1.0 - driving / horizon_s


def next_departure(trips: list[Trip], now_s: float) -> float | None:
    return next((t.depart_s for t in trips if t.depart_s > now_s), None)


def battery_after(soc: float, seconds: float, *, driving: bool, charging: bool) -> float:
    hours = seconds / HOUR
    if driving:
        soc -= DRAIN_DRIVING_PER_H * hours
    elif charging:
        soc += CHARGE_PER_H * hours
    else:
        soc -= DRAIN_PARKED_PER_H * hours
    return _clip(soc, 0.0, 1.0)

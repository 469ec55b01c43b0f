"""The feedback search on its own: wherever the spot, and whatever distances the page's words
stand for, the probes reach the hottest reading within a bounded number of steps."""

from __future__ import annotations

import math
import random

import pytest

from macrohard.planner_model.web_planner.skills.feedback import next_probe


def word(d: float, bands: tuple[float, float, float]) -> str:
    hot, warm, cold = bands
    return "hot" if d < hot else "warm" if d < warm else "cold" if d < cold else "ice cold"


@pytest.mark.parametrize("bands", [(5, 10, 40), (6, 20, 50), (5, 15, 30)])
def test_the_hot_spot_is_reached_within_twenty_probes(bands: tuple[float, float, float]) -> None:
    rng = random.Random(7)
    for _ in range(15):
        spot = (rng.randint(5, 150), rng.randint(5, 120))
        readings: list[tuple[int, int, str]] = []
        for _probe in range(20):
            x, y = next_probe(156, 127, readings)
            w = word(math.hypot(x - spot[0], y - spot[1]), bands)
            if w == "hot":
                break
            readings.append((x, y, w))
        else:
            raise AssertionError(f"no hot reading for {spot} with {bands}: {readings}")

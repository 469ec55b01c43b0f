"""The fleet as the console draws it (pure): columns for a canvas, counts for the aggregates.

Ten thousand cars do not fit a table a person can read, so every car is one cell of a heat
map coloured by state (or shaded by battery, utilisation or reliability) and the figures
that matter are the aggregates above it. Columns rather than one object per car keep the
payload small (a few dozen bytes a car) and let the page filter without another request.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from macrohard.node_registry.public import CAR_STATES, Car


def fleet_payload(cars: list[Car], earnings: dict[str, str]) -> dict[str, Any]:
    counts = Counter(c.state for c in cars)
    return {
        "states": list(CAR_STATES),
        "counts": {s: counts.get(s, 0) for s in CAR_STATES},
        "ids": [c.node_id for c in cars],
        "owners": [c.owner_account for c in cars],
        "state": [CAR_STATES.index(c.state) for c in cars],
        "battery": [round(c.battery, 3) for c in cars],
        "leases": [c.active_leases for c in cars],
        "utilisation": [round(c.utilisation, 3) for c in cars],
        "reliability": [round(c.reliability, 3) for c in cars],
        "earnings": [earnings.get(c.node_id, "0") for c in cars],
        "active_leases": sum(c.active_leases for c in cars),
        "mean_battery": round(sum(c.battery for c in cars) / len(cars), 3) if cars else 0.0,
    }

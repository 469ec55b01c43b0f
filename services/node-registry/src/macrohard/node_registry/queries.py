"""Read-side queries on schema `fleet`, for the console and `mh`: every car as one row.

Import this module rather than querying the tables: the tables are the registry's to
change, these signatures are the contract (the same arrangement as `billing.queries`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from macrohard.eventlog.db import Conn

CarState = Literal["lost", "driving", "charging", "low_battery", "throttled", "parked"]
CAR_STATES: tuple[CarState, ...] = (
    "parked",
    "charging",
    "driving",
    "low_battery",
    "throttled",
    "lost",
)


class Car(msgspec.Struct, frozen=True, kw_only=True):
    """One car as the log has it. `utilisation`: share of the last hour under a lease;
    `reliability`: share of its leases that ended without being revoked (1.0 with none)."""

    node_id: str
    owner_account: str
    state: CarState
    battery: float
    active_leases: int
    leases: int
    revoked: int
    utilisation: float
    reliability: float
    updated_at: datetime


def car_state(
    *, lost: bool, parked: bool, charging: bool, throttled: bool, soc: float, soc_floor: float
) -> CarState:
    """The one state a car is drawn in; the first that applies wins (lost hides the rest)."""
    if lost:
        return "lost"
    if not parked:
        return "driving"
    if charging:
        return "charging"
    if soc <= soc_floor:
        return "low_battery"
    if throttled:
        return "throttled"
    return "parked"


async def cars(conn: Conn, now: datetime) -> list[Car]:
    """Every registered car, by id."""
    rows = await conn.fetch(
        """SELECT n.node_id, n.owner_account, n.lost, n.parked, n.charging, n.throttled,
                  n.state_of_charge, n.soc_floor, n.updated_at,
                  coalesce(l.active, 0), coalesce(l.total, 0), coalesce(l.revoked, 0),
                  coalesce(l.busy_s, 0)
           FROM fleet.nodes n LEFT JOIN (
               SELECT node_id,
                      count(*) FILTER (WHERE ended_at IS NULL) AS active,
                      count(*) AS total,
                      count(*) FILTER (WHERE end_reason IS NOT NULL
                                         AND end_reason <> 'released') AS revoked,
                      sum(extract(epoch FROM least(coalesce(ended_at, $1), $1)
                                             - greatest(granted_at, $1 - interval '1 hour')))
                          FILTER (WHERE coalesce(ended_at, $1) > $1 - interval '1 hour')
                          AS busy_s
               FROM fleet.leases GROUP BY node_id) l USING (node_id)
           ORDER BY n.node_id""",
        now,
    )
    return [
        Car(
            node_id=r[0],
            owner_account=r[1],
            state=car_state(
                lost=r[2], parked=r[3], charging=r[4], throttled=r[5], soc=r[6], soc_floor=r[7]
            ),
            battery=float(r[6]),
            active_leases=int(r[9]),
            leases=int(r[10]),
            revoked=int(r[11]),
            utilisation=min(1.0, max(0.0, float(r[12]) / 3600.0)),
            reliability=1.0 - int(r[11]) / int(r[10]) if r[10] else 1.0,
            updated_at=r[8],
        )
        for r in rows
    ]

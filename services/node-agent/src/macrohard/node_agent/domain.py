"""A car's own state and schedule, without I/O: what it reports, and when.

The agent turns changes of this state into events (parked, unparked, charging, battery,
throttled); the battery is reported in steps, not every tick (ticks are telemetry).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from macrohard.contracts.envelope import Event
from macrohard.contracts.fleet import (
    NodeBatteryChanged,
    NodeChargingChanged,
    NodeParked,
    NodeThrottled,
    NodeUnparked,
)

BATTERY_STEP = 0.05  # report state of charge when it crosses a 5 % step

Action = Literal["park", "unpark", "charge", "stop_charging", "battery", "throttle", "cool"]


class ScheduledChange(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a `--schedule FILE` (a JSON list): what happens `after_s` seconds in.

    `value` is the state of charge for "battery" and the parked duration in seconds for
    "park" (omitted: parked until further notice).
    """

    after_s: float
    action: Action
    value: float | None = None


def parse_schedule(data: bytes) -> list[ScheduledChange]:
    return sorted(msgspec.json.decode(data, type=list[ScheduledChange]), key=lambda c: c.after_s)


@dataclass(frozen=True, slots=True)
class CarState:
    parked: bool = False
    expected_departure: datetime | None = None
    charging: bool = False
    state_of_charge: float = 0.8
    throttled: bool = False
    reported_soc: float = 0.8


def change(
    state: CarState, node_id: str, c: ScheduledChange, now: datetime
) -> tuple[CarState, list[Event]]:
    """Apply one scheduled change; return the new state and the events it causes."""
    match c.action:
        case "park":
            until = now + timedelta(seconds=c.value) if c.value is not None else None
            return park(state, node_id, until)
        case "unpark":
            return unpark(state, node_id)
        case "charge" | "stop_charging":
            charging = c.action == "charge"
            if state.charging == charging:
                return state, []
            return replace(state, charging=charging), [
                NodeChargingChanged(node_id=node_id, charging=charging)
            ]
        case "battery":
            return battery(
                state, node_id, c.value if c.value is not None else state.state_of_charge
            )
        case "throttle" | "cool":
            throttled = c.action == "throttle"
            if state.throttled == throttled:
                return state, []
            return replace(state, throttled=throttled), [
                NodeThrottled(node_id=node_id, throttled=throttled)
            ]
    raise ValueError(f"unknown action {c.action!r}")


def park(state: CarState, node_id: str, until: datetime | None) -> tuple[CarState, list[Event]]:
    new = replace(state, parked=True, expected_departure=until)
    return new, [NodeParked(node_id=node_id, expected_departure=until)]


def unpark(state: CarState, node_id: str) -> tuple[CarState, list[Event]]:
    if not state.parked:
        return state, []
    return replace(state, parked=False, expected_departure=None), [NodeUnparked(node_id=node_id)]


def battery(state: CarState, node_id: str, soc: float) -> tuple[CarState, list[Event]]:
    """Set the state of charge; an event only when it moved a whole step from the last
    reported value (or crossed 0/1), so a draining battery is a handful of events a day."""
    soc = min(max(soc, 0.0), 1.0)
    new = replace(state, state_of_charge=soc)
    if abs(soc - state.reported_soc) + 1e-9 >= BATTERY_STEP or (
        soc in (0.0, 1.0) and soc != state.reported_soc
    ):
        return replace(new, reported_soc=soc), [
            NodeBatteryChanged(node_id=node_id, state_of_charge=round(soc, 4))
        ]
    return new, []


def departure_due(state: CarState, now: datetime) -> bool:
    return state.parked and state.expected_departure is not None and now >= state.expected_departure


def parse_parked_until(text: str, now: datetime) -> datetime:
    """`--parked-until`: an ISO time (UTC if naive), `HH:MM` (next such time, UTC), or a
    duration from now: `90s`, `45m`, `8h`."""
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return now + timedelta(seconds=float(text[:-1]) * units[text[-1]])
    if len(text) == 5 and text[2] == ":":
        hour, minute = int(text[:2]), int(text[3:])
        at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return at if at > now else at + timedelta(days=1)
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=now.tzinfo)

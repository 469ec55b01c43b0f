"""What a car's owner allows (pure): a minimum state of charge and the hours it may work.

An owner lends a car on terms: "never below 40%", "only between 22:00 and 07:00". The
terms arrive as an event (`OwnerPreferencesSet`, bounded and validated here: a refused
declaration leaves the previous terms in force) and are the owner's line, stricter than the
platform's own charge floor: below the owner's minimum a car takes no work even while it
charges. Hours are the car's wall clock, in its own time zone, so "22:00-07:00" stays night
for the owner across daylight-saving changes and wherever the registry runs.

Every decision takes the time and the charge as arguments: nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from macrohard.contracts.fleet import ALL_HOURS, OwnerPreferencesSet

ZERO = timedelta(0)
MAX_TIME_ZONE = 64  # IANA names are short ("America/Argentina/ComodRivadavia" is 32)


@dataclass(frozen=True, slots=True)
class OwnerPreferences:
    min_state_of_charge: float = 0.0
    # Bit h set: the car may work in hour h (0-23) of its own clock.
    hours_mask: int = (1 << 24) - 1
    time_zone: str = "UTC"

    @property
    def always(self) -> bool:
        """Every hour allowed: no clock to read (the common case, and the cheap one)."""
        return self.hours_mask == (1 << 24) - 1

    @property
    def work_hours(self) -> list[int]:
        return [h for h in ALL_HOURS if self.hours_mask >> h & 1]


NO_PREFERENCES = OwnerPreferences()


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    if not 0 < len(name) <= MAX_TIME_ZONE or name.startswith(("/", ".")) or ".." in name:
        return None  # ZoneInfo would read a path: only plain IANA names get near it
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def preference_problems(event: OwnerPreferencesSet) -> list[str]:
    """Why a declaration is refused ([] when it is within bounds)."""
    problems = []
    if not 0.0 <= event.min_state_of_charge <= 1.0:  # also refuses NaN
        problems.append(f"min_state_of_charge {event.min_state_of_charge} outside [0, 1]")
    hours = event.work_hours
    if len(hours) > len(ALL_HOURS) or any(not 0 <= h <= 23 for h in hours):
        problems.append(f"work_hours {hours[:25]!r} not hours of the day (0-23)")
    elif len(set(hours)) != len(hours):
        problems.append(f"work_hours {hours!r} repeat an hour")
    if _zone(event.time_zone) is None:
        problems.append(f"time_zone {event.time_zone[:MAX_TIME_ZONE]!r} is not an IANA zone")
    return problems


def preferences_of(event: OwnerPreferencesSet) -> OwnerPreferences:
    """The terms a valid declaration sets (check `preference_problems` first)."""
    mask = 0
    for h in event.work_hours:
        mask |= 1 << h
    return OwnerPreferences(event.min_state_of_charge, mask, event.time_zone)


def within_hours(prefs: OwnerPreferences, now: datetime) -> bool:
    """May the car work at `now` (an aware datetime) on its own clock?"""
    if prefs.always:
        return True
    if prefs.time_zone == "UTC" and now.utcoffset() == ZERO:
        local = now  # already the owner's clock (placement asks this of many cars a lease)
    else:
        zone = _zone(prefs.time_zone)
        local = now.astimezone(zone) if zone is not None else now
    return bool(prefs.hours_mask >> local.hour & 1)


def battery_allows(prefs: OwnerPreferences, state_of_charge: float) -> bool:
    """At or above the owner's minimum (the minimum itself is allowed: "down to 40%")."""
    return state_of_charge >= prefs.min_state_of_charge


def owner_allows(prefs: OwnerPreferences, state_of_charge: float, now: datetime) -> bool:
    """The owner's terms, both of them: a lease is granted and kept only while this holds."""
    return battery_allows(prefs, state_of_charge) and within_hours(prefs, now)


def why_not(prefs: OwnerPreferences, state_of_charge: float, now: datetime) -> str:
    """The revocation reason when the owner's terms no longer hold ("" while they do)."""
    if not battery_allows(prefs, state_of_charge):
        return "below the owner's minimum charge"
    if not within_hours(prefs, now):
        return "outside the owner's hours"
    return ""


def crosses_minimum(prefs: OwnerPreferences, known: float, reported: float) -> bool:
    """Does a heartbeat's charge fall on the other side of the owner's minimum than the
    fleet's last recorded charge? Then it is worth an event; otherwise it is telemetry."""
    return battery_allows(prefs, known) != battery_allows(prefs, reported)

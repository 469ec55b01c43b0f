"""Owners' terms, pure: validation, hours on the car's clock, the battery line, and that
neither placement (exact or indexed) nor revocation ever lets a car work past them."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from macrohard.contracts.fleet import OwnerPreferencesSet
from macrohard.node_registry.domain import Fleet, Lease, Node, Placement, place, revocations
from macrohard.node_registry.placement import Choice, PlacementIndex, candidate_of, choose
from macrohard.node_registry.preferences import (
    NO_PREFERENCES,
    OwnerPreferences,
    crosses_minimum,
    owner_allows,
    preference_problems,
    preferences_of,
    why_not,
    within_hours,
)
from tests.fleet.test_domain import node

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "Australia/Sydney"]
BAD_ZONES = ["", "Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "x" * 65]

hours_st = st.lists(st.integers(0, 23), unique=True, max_size=24)
prefs_st = st.builds(
    lambda soc, hours, zone: preferences_of(
        OwnerPreferencesSet(node_id="c", min_state_of_charge=soc, work_hours=hours, time_zone=zone)
    ),
    st.floats(0, 1),
    hours_st,
    st.sampled_from(ZONES),
)
moments_st = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=400)
@given(
    soc=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1)),
    hours=st.lists(st.integers(-3, 27), max_size=30),
    zone=st.sampled_from(ZONES + BAD_ZONES),
)
def test_a_declaration_is_accepted_exactly_when_every_figure_is_in_bounds(
    soc: float, hours: list[int], zone: str
) -> None:
    event = OwnerPreferencesSet(
        node_id="c", min_state_of_charge=soc, work_hours=hours, time_zone=zone
    )
    valid = (
        0.0 <= soc <= 1.0
        and all(0 <= h <= 23 for h in hours)
        and len(set(hours)) == len(hours)
        and zone in ZONES
    )
    problems = preference_problems(event)
    assert (problems == []) == valid, problems
    if valid:
        assert preferences_of(event).work_hours == sorted(hours)


@given(prefs=prefs_st, moment=moments_st)
def test_hours_are_read_on_the_cars_own_clock(prefs: OwnerPreferences, moment: datetime) -> None:
    local_hour = moment.astimezone(ZoneInfo(prefs.time_zone)).hour
    assert within_hours(prefs, moment) == (local_hour in prefs.work_hours)


def test_every_hour_of_a_day_across_a_dst_change_in_the_cars_zone() -> None:
    # 22:00-06:59 in Berlin, on the night clocks go back (2026-10-25): exhaustively.
    night = [22, 23, 0, 1, 2, 3, 4, 5, 6]
    prefs = preferences_of(
        OwnerPreferencesSet(node_id="c", work_hours=night, time_zone="Europe/Berlin")
    )
    start = datetime(2026, 10, 24, 12, tzinfo=UTC)
    for minutes in range(0, 36 * 60, 15):
        moment = start + timedelta(minutes=minutes)
        berlin = moment.astimezone(ZoneInfo("Europe/Berlin"))
        assert within_hours(prefs, moment) == (berlin.hour in night), berlin


@given(prefs=prefs_st, known=st.floats(0, 1), reported=st.floats(0, 1), moment=moments_st)
def test_the_battery_line_and_the_reason_a_lease_ends(
    prefs: OwnerPreferences, known: float, reported: float, moment: datetime
) -> None:
    allowed = owner_allows(prefs, reported, moment)
    assert allowed == (reported >= prefs.min_state_of_charge and within_hours(prefs, moment))
    assert (why_not(prefs, reported, moment) == "") == allowed
    below = (known < prefs.min_state_of_charge, reported < prefs.min_state_of_charge)
    assert crosses_minimum(prefs, known, reported) == (below[0] != below[1])


def car(node_id: str, **kw: object) -> Node:
    return node(node_id, soc_floor=0.0, **kw)


fleet_st = st.lists(
    st.tuples(prefs_st, st.floats(0, 1), st.booleans(), st.integers(1, 3)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300)
@given(cars=fleet_st, moment=moments_st, seed=st.integers(0, 2**32))
def test_placement_never_leases_a_car_past_its_owners_terms(
    cars: list[tuple[OwnerPreferences, float, bool, int]], moment: datetime, seed: int
) -> None:
    nodes = {
        f"car-{i}": car(
            f"car-{i}", prefs=prefs, state_of_charge=soc, charging=charging, max_leases=slots
        )
        for i, (prefs, soc, charging, slots) in enumerate(cars)
    }
    fleet = Fleet(nodes=nodes)
    index = PlacementIndex()
    for n in nodes.values():
        if n.schedulable():
            index.put(candidate_of(n, latency_ms=None, trust=1.0))
    allowed = {
        n.node_id
        for n in nodes.values()
        if owner_allows(n.prefs, n.state_of_charge, moment)
        and (n.charging or n.state_of_charge > n.soc_floor)
    }
    exact = place(fleet, tenant_id="t", model="minilm", ttl_s=60, now=moment)
    indexed = choose(
        index, tenant_id="t", model="minilm", ttl_s=60, now=moment, rng=random.Random(seed)
    )
    # Charging does not lift the owner's minimum; a car within the terms is always found.
    assert isinstance(exact, Placement) == bool(allowed)
    assert isinstance(indexed, Choice) == bool(allowed)
    if isinstance(exact, Placement) and isinstance(indexed, Choice):
        assert exact.node.node_id in allowed and indexed.node_id in allowed


@given(prefs=prefs_st, soc=st.floats(0, 1), moment=moments_st)
def test_a_lease_past_the_owners_terms_is_revoked_with_the_reason(
    prefs: OwnerPreferences, soc: float, moment: datetime
) -> None:
    fleet = Fleet(nodes={"c": car("c", prefs=prefs, state_of_charge=soc)})
    fleet.leases["l"] = Lease("l", "c", "t", "task", "minilm", moment + timedelta(minutes=5))
    due = revocations(fleet, moment)
    expected = why_not(prefs, soc, moment)
    assert [reason for _, reason in due] == ([expected] if expected else [])


def test_a_refused_declaration_keeps_the_previous_terms_and_survives_reregistration() -> None:
    from macrohard.contracts.fleet import NodeRegistered

    fleet = Fleet()
    reg = NodeRegistered(
        node_id="c", owner_account="o", chip="nvidia-drive-orin", tops=254, memory_gb=32,
        power_w=60, models=["minilm"], heartbeat_interval_s=10,
    )  # fmt: skip
    fleet.apply(reg)
    assert fleet.nodes["c"].prefs == NO_PREFERENCES
    good = OwnerPreferencesSet(
        node_id="c", min_state_of_charge=0.4, work_hours=[22, 23], time_zone="Asia/Kolkata"
    )
    fleet.apply(good)
    fleet.apply(OwnerPreferencesSet(node_id="c", min_state_of_charge=math.nan))
    fleet.apply(OwnerPreferencesSet(node_id="c", work_hours=[24]))
    assert fleet.nodes["c"].prefs == preferences_of(good)
    assert "time_zone" not in fleet.refused_preferences["c"]
    assert "work_hours" in fleet.refused_preferences["c"]
    fleet.apply(reg)  # the car registers again (a restart): the owner's terms stand
    assert fleet.nodes["c"].prefs == preferences_of(good)

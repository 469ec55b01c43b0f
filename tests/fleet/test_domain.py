"""Pure fleet decisions: schedulability, placement, fairness, revocation, liveness, folding."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from macrohard.contracts.fleet import LeaseGranted, LeaseRevoked, NodeParked, NodeRegistered
from macrohard.node_agent.domain import (
    CarState,
    ScheduledChange,
    battery,
    change,
    parse_parked_until,
    parse_schedule,
)
from macrohard.node_registry.domain import (
    Fleet,
    Lease,
    Liveness,
    Node,
    Placement,
    Refusal,
    fair_share,
    place,
    revocations,
    score,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def node(node_id: str, **kw: object) -> Node:
    base = Node(
        node_id=node_id,
        owner_account="o",
        chip="orin",
        tops=254.0,
        power_w=60.0,
        models=frozenset({"minilm"}),
        parked=True,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


nodes_st = st.lists(
    st.builds(
        lambda i, parked, lost, throttled, charging, soc, floor, models, slots, leave_min: node(
            f"car-{i}",
            parked=parked,
            lost=lost,
            throttled=throttled,
            charging=charging,
            state_of_charge=soc,
            soc_floor=floor,
            models=frozenset(models),
            max_leases=slots,
            expected_departure=None if leave_min is None else NOW + timedelta(minutes=leave_min),
        ),
        st.integers(0, 30),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.floats(0, 1),
        st.floats(0, 0.5),
        st.sets(st.sampled_from(["minilm", "planner"]), max_size=2),
        st.integers(1, 4),
        st.one_of(st.none(), st.integers(-30, 600)),
    ),
    max_size=12,
    unique_by=lambda n: n.node_id,
)
leases_st = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(["t1", "t2", "t3"])), max_size=20
)


def fleet_of(nodes: list[Node], leases: list[tuple[int, str]]) -> Fleet:
    f = Fleet(nodes={n.node_id: n for n in nodes})
    for i, (car, tenant) in enumerate(leases):
        if f"car-{car}" in f.nodes:
            f.leases[f"l{i}"] = Lease(f"l{i}", f"car-{car}", tenant, f"task{i}", "minilm", NOW)
    return f


@settings(max_examples=300)
@given(
    nodes=nodes_st,
    leases=leases_st,
    tenant=st.sampled_from(["t1", "t2", "t4"]),
    model=st.sampled_from(["minilm", "planner"]),
    alive_mask=st.lists(st.booleans(), min_size=31, max_size=31),
    exclude=st.sets(st.integers(0, 30), max_size=3),
)
def test_placement_only_chooses_an_eligible_node_and_the_best_one(
    nodes: list[Node],
    leases: list[tuple[int, str]],
    tenant: str,
    model: str,
    alive_mask: list[bool],
    exclude: set[int],
) -> None:
    fleet = fleet_of(nodes, leases)
    alive = {f"car-{i}": alive_mask[i] for i in range(31)}
    excluded = [f"car-{i}" for i in exclude]
    held = fleet.held_by_node()
    decision = place(
        fleet, tenant_id=tenant, model=model, ttl_s=60, now=NOW, alive=alive, exclude=excluded
    )

    def eligible(n: Node) -> bool:
        return (
            n.schedulable(model)
            and alive[n.node_id]
            and n.node_id not in excluded
            and held.get(n.node_id, 0) < n.max_leases
        )

    candidates = [n for n in fleet.nodes.values() if eligible(n)]
    if isinstance(decision, Placement):
        chosen = decision.node
        assert eligible(chosen)
        # The charge floor: below it only while plugged in.
        assert chosen.charging or chosen.state_of_charge > chosen.soc_floor
        assert model in chosen.models and chosen.parked and not chosen.lost
        assert decision.score >= 0
    else:
        assert isinstance(decision, Refusal)
        if candidates:
            assert "fair share" in decision.reason


@given(nodes=nodes_st, leases=leases_st)
def test_a_lone_tenant_is_never_refused_while_capacity_is_free(
    nodes: list[Node], leases: list[tuple[int, str]]
) -> None:
    fleet = fleet_of(nodes, [(car, "t1") for car, _ in leases])
    held = fleet.held_by_node()
    free = [
        n for n in fleet.nodes.values()
        if n.schedulable("minilm") and held.get(n.node_id, 0) < n.max_leases
    ]  # fmt: skip
    decision = place(fleet, tenant_id="t1", model="minilm", ttl_s=60, now=NOW)
    assert isinstance(decision, Placement) == bool(free)


def test_fair_share_stops_one_tenant_from_taking_everything() -> None:
    fleet = Fleet(nodes={"car-1": node("car-1", max_leases=4)})
    for i in range(2):
        fleet.leases[f"a{i}"] = Lease(f"a{i}", "car-1", "greedy", f"t{i}", "minilm", NOW)
    fleet.leases["b0"] = Lease("b0", "car-1", "modest", "t9", "minilm", NOW)
    assert fair_share(4, 2) == 2
    greedy = place(fleet, tenant_id="greedy", model="minilm", ttl_s=60, now=NOW)
    assert isinstance(greedy, Refusal) and "fair share" in greedy.reason
    modest = place(fleet, tenant_id="modest", model="minilm", ttl_s=60, now=NOW)
    assert isinstance(modest, Placement)


def test_placement_prefers_free_fast_long_parked_cars() -> None:
    fleet = Fleet(
        nodes={
            "car-busy": node("car-busy", max_leases=2),
            "car-leaving": node("car-leaving", expected_departure=NOW + timedelta(seconds=30)),
            "car-slow": node("car-slow"),
            "car-good": node("car-good", expected_departure=NOW + timedelta(hours=8)),
        }
    )
    fleet.leases["x"] = Lease("x", "car-busy", "other", "t", "minilm", NOW)
    decision = place(
        fleet,
        tenant_id="t1",
        model="minilm",
        ttl_s=60,
        now=NOW,
        latency_ms={"car-slow": 200.0, "car-good": 5.0, "car-busy": 5.0, "car-leaving": 5.0},
    )
    assert isinstance(decision, Placement) and decision.node.node_id == "car-good"


@given(
    held=st.integers(0, 4),
    mine=st.integers(0, 4),
    lat=st.floats(0, 1000),
    leave_s=st.one_of(st.none(), st.floats(-100, 1e6)),
)
def test_score_is_bounded_and_monotone_in_free_capacity(
    held: int, mine: int, lat: float, leave_s: float | None
) -> None:
    n = node(
        "c",
        max_leases=4,
        expected_departure=None if leave_s is None else NOW + timedelta(seconds=leave_s),
    )
    s = score(n, held=held, held_by_tenant=mine, latency_ms=lat, ttl_s=60, now=NOW)
    assert 0.0 <= s <= 1.0 + 1e-9
    if held < 4:
        more_busy = score(n, held=held + 1, held_by_tenant=mine, latency_ms=lat, ttl_s=60, now=NOW)
        assert more_busy < s


def test_revocations_name_why_a_lease_must_end() -> None:
    fleet = Fleet(
        nodes={
            "car-gone": node("car-gone", parked=False),
            "car-lost": node("car-lost", lost=True),
            "car-ok": node("car-ok"),
            "car-hot": node("car-hot", throttled=True),
        }
    )
    later = NOW + timedelta(minutes=5)
    for lease_id, car, exp in [
        ("a", "car-gone", later), ("b", "car-lost", later), ("c", "car-ok", NOW),
        ("d", "car-ok", later), ("e", "car-hot", later), ("f", "car-unknown", later),
    ]:  # fmt: skip
        fleet.leases[lease_id] = Lease(lease_id, car, "t", "task", "minilm", exp)
    reasons = {lease.lease_id: why for lease, why in revocations(fleet, NOW)}
    assert reasons == {"a": "unparked", "b": "lost", "c": "expired", "f": "unknown node"}


@given(
    beats=st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 100)), max_size=40),
    sweeps=st.lists(st.floats(0, 200), max_size=20),
)
def test_liveness_declares_exactly_the_nodes_silent_for_three_intervals(
    beats: list[tuple[str, float]], sweeps: list[float]
) -> None:
    interval = 10.0
    live = Liveness(interval)
    events = sorted([(t, "beat", n) for n, t in beats] + [(t, "sweep", "") for t in sweeps])
    declared: list[tuple[str, float]] = []
    for t, kind, n in events:
        if kind == "beat":
            live.beat(n, t)
        else:
            declared += [(x, t) for x in live.sweep(t)]
    for n, t in declared:
        last = max(bt for bn, bt in beats if bn == n and bt <= t)
        assert t - last >= 3 * interval  # never early
    # Never late by more than the bucket resolution at a sweep: anything due is declared.
    if events:
        end = events[-1][0] + 1000
        for n in live.sweep(end):
            declared.append((n, end))
        for n in {bn for bn, _ in beats}:
            assert n in live.declared_lost


def test_folding_is_idempotent_for_a_lease_applied_twice() -> None:
    f = Fleet()
    reg = NodeRegistered(
        node_id="car-1", owner_account="o", chip="c", tops=1, memory_gb=1, power_w=1,
        models=["minilm"],
    )  # fmt: skip
    granted = LeaseGranted(
        lease_id="l1", node_id="car-1", tenant_id="t", task_id="k", model="minilm", expires_at=NOW
    )
    revoked = LeaseRevoked(lease_id="l1", node_id="car-1", tenant_id="t", task_id="k", reason="x")
    for e in (reg, NodeParked(node_id="car-1"), granted, granted, revoked, revoked):
        f.apply(e)
    assert f.leases == {} and f.revoked == 1 and f.nodes["car-1"].parked


def test_car_battery_is_reported_in_steps_and_schedules_parse() -> None:
    s = CarState(state_of_charge=0.8, reported_soc=0.8)
    s, ev = battery(s, "c", 0.78)
    assert ev == []
    s, ev = battery(s, "c", 0.74)
    assert len(ev) == 1 and s.reported_soc == 0.74
    s, ev = change(s, "c", ScheduledChange(after_s=0, action="charge"), NOW)
    assert s.charging and len(ev) == 1
    s, ev = change(s, "c", ScheduledChange(after_s=0, action="charge"), NOW)
    assert ev == []
    sched = parse_schedule(
        b'[{"after_s": 5, "action": "unpark"}, {"after_s": 1, "action": "throttle"}]'
    )
    assert [c.action for c in sched] == ["throttle", "unpark"]
    assert parse_parked_until("90s", NOW) == NOW + timedelta(seconds=90)
    assert parse_parked_until("11:00", NOW) == NOW + timedelta(hours=23)
    assert parse_parked_until("2026-11-25T18:00:00", NOW) == NOW + timedelta(hours=6)

"""The placement index: it stays consistent through any sequence of changes, it chooses
what an exhaustive look at its best tier would choose, measured quality decides the tier,
and a lease looks at a bounded number of cars however large the fleet."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from macrohard.node_registry.domain import Refusal
from macrohard.node_registry.placement import (
    ROUNDS,
    SAMPLE,
    TIERS,
    Candidate,
    Choice,
    PlacementIndex,
    car_score,
    choose,
    quality,
    tier_of,
)
from macrohard.node_registry.reputation import Reputation, placement_factor

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MODELS = ["minilm", "planner"]

candidate_st = st.builds(
    Candidate,
    node_id=st.integers(0, 15).map(lambda i: f"car-{i}"),
    models=st.sets(st.sampled_from(MODELS), min_size=1).map(frozenset),
    max_leases=st.integers(1, 3),
    latency_ms=st.one_of(st.none(), st.floats(0, 500)),
    trust=st.floats(0.05, 1.0),
)
op_st = st.one_of(
    st.tuples(st.just("put"), candidate_st),
    st.tuples(st.just("drop"), st.integers(0, 15)),
    st.tuples(
        st.just("lease"),
        st.integers(0, 15),
        st.sampled_from(["t1", "t2", "t3"]),
        st.sampled_from(MODELS),
    ),
    st.tuples(st.just("end"), st.integers(0, 40)),
)


def play(ops: list[tuple[object, ...]]) -> tuple[PlacementIndex, list[tuple[str, str, str]]]:
    index = PlacementIndex()
    leases: list[tuple[str, str, str]] = []
    for op in ops:
        if op[0] == "put":
            index.put(op[1])  # type: ignore[arg-type]
        elif op[0] == "drop":
            index.drop(f"car-{op[1]}")
        elif op[0] == "lease":
            lease = (f"car-{op[1]}", str(op[2]), str(op[3]))
            index.leased(*lease)
            leases.append(lease)
        elif leases:
            index.ended(*leases.pop(int(op[1]) % len(leases)))  # type: ignore[call-overload]
    return index, leases


@settings(max_examples=300)
@given(ops=st.lists(op_st, max_size=60))
def test_the_index_matches_its_cars_and_leases_after_any_sequence(
    ops: list[tuple[object, ...]],
) -> None:
    index, leases = play(ops)
    held: dict[str, int] = {}
    for node_id, _, _ in leases:
        held[node_id] = held.get(node_id, 0) + 1
    assert {k: v for k, v in index.held.items() if v} == held
    for model in MODELS:
        expected_capacity = sum(c.max_leases for c in index.cars.values() if model in c.models)
        assert index.capacity.get(model, 0) == expected_capacity
        in_bags = {n: t for t, bag in enumerate(index.tiers(model)) for n in bag.items}
        free = {
            c.node_id: c.tier
            for c in index.cars.values()
            if model in c.models and held.get(c.node_id, 0) < c.max_leases
        }
        assert in_bags == free
        tenants = {t: 0 for _, t, m in leases if m == model}
        for _, t, m in leases:
            if m == model:
                tenants[t] += 1
        assert index.tenant_leases.get(model, {}) == tenants


@settings(max_examples=300)
@given(
    ops=st.lists(op_st, max_size=60),
    tenant=st.sampled_from(["t1", "t2", "t4"]),
    model=st.sampled_from(MODELS),
    down=st.sets(st.integers(0, 15), max_size=4),
    seed=st.integers(0, 2**32),
)
def test_choice_is_the_best_usable_car_of_the_best_usable_tier(
    ops: list[tuple[object, ...]], tenant: str, model: str, down: set[int], seed: int
) -> None:
    index, _ = play(ops)
    dead = {f"car-{i}" for i in down}
    decision = choose(
        index,
        tenant_id=tenant,
        model=model,
        ttl_s=60,
        now=NOW,
        rng=random.Random(seed),
        alive=lambda n: n not in dead,
    )
    usable = [
        c
        for c in index.cars.values()
        if model in c.models
        and index.held.get(c.node_id, 0) < c.max_leases
        and c.node_id not in dead
    ]
    if isinstance(decision, Refusal):
        assert not usable or "fair share" in decision.reason
        return
    # Fewer cars than a sample: the index looked at all of its best usable tier.
    assert len(index.cars) <= SAMPLE
    chosen = index.cars[decision.node_id]
    assert chosen in usable
    top = max(c.tier for c in usable)
    assert chosen.tier == top
    best = max(
        car_score(index, c, tenant_id=tenant, ttl_s=60, now=NOW) for c in usable if c.tier == top
    )
    assert decision.score == best


@given(fast=st.floats(0, 50), slow_extra=st.floats(1, 500), trust=st.floats(0.05, 1.0))
def test_measured_quality_orders_the_tiers(fast: float, slow_extra: float, trust: float) -> None:
    # Faster as measured by the platform, or a better record: never a lower tier.
    assert quality(fast, trust) >= quality(fast + slow_extra, trust)
    assert tier_of(quality(fast, 1.0)) >= tier_of(quality(fast, trust))
    assert 0 <= tier_of(quality(fast, trust)) < TIERS


def test_a_car_that_loses_leases_or_disputes_is_placed_after_reliable_ones() -> None:
    reliable = Reputation(leases=20)
    flaky = Reputation(leases=20, leases_lost=10)  # unparked or vanished mid-work half the time
    disputed = Reputation(leases=20, disputes_lost=1)
    assert placement_factor(disputed) < placement_factor(reliable)
    index = PlacementIndex()
    index.put(Candidate("car-flaky", frozenset({"minilm"}), 4, 5.0, placement_factor(flaky)))
    index.put(Candidate("car-liar", frozenset({"minilm"}), 4, 5.0, placement_factor(disputed)))
    index.put(Candidate("car-steady", frozenset({"minilm"}), 4, 5.0, placement_factor(reliable)))
    for seed in range(20):
        got = choose(
            index, tenant_id="t", model="minilm", ttl_s=60, now=NOW, rng=random.Random(seed)
        )
        assert isinstance(got, Choice) and got.node_id == "car-steady"


def test_a_lease_looks_at_a_bounded_number_of_cars_at_a_hundred_thousand() -> None:
    rng = random.Random(7)
    index = PlacementIndex()
    for i in range(100_000):
        index.put(
            Candidate(f"car-{i}", frozenset({"minilm"}), 4, rng.uniform(1, 200), rng.random())
        )
    looked: list[str] = []

    def alive(node_id: str) -> bool:
        looked.append(node_id)
        return rng.random() < 0.5  # half the fleet silent: the index must still find one

    for _ in range(50):
        looked.clear()
        got = choose(index, tenant_id="t", model="minilm", ttl_s=60, now=NOW, rng=rng, alive=alive)
        assert isinstance(got, Choice)
        assert len(looked) <= SAMPLE * ROUNDS * TIERS
        index.leased(got.node_id, "t", "minilm")

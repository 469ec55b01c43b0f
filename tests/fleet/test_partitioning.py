"""Partition rebalancing (pure): replicas joining, ticking in any order and dying."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from macrohard.node_registry.partitioning import Assignment, rebalance

P = 64
TTL = 1.0


def run(table: Assignment, order: list[str], start: float, step: float) -> tuple[Assignment, float]:
    now = start
    for replica in order:
        now += step
        table = rebalance(table, replica, now, TTL)
    return table, now


@given(
    live=st.integers(min_value=1, max_value=5),
    dead=st.integers(min_value=0, max_value=3),
    order=st.lists(st.integers(min_value=0, max_value=7), min_size=0, max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_survivors_own_every_partition_fairly_after_the_dead_expire(
    live: int, dead: int, order: list[int]
) -> None:
    replicas = [f"r{i}" for i in range(live + dead)]
    # Everyone ticks in an arbitrary order for a while (each tick a small step of time).
    table, now = run(
        Assignment.empty(P), [replicas[i % len(replicas)] for i in order], 0.0, TTL / 10
    )
    # The dead stop ticking; the survivors tick round-robin for three TTLs.
    survivors = replicas[:live]
    table, now = run(table, survivors * 30, now, TTL / 10)
    owners = table.owned_by
    owned = {r: owners(r, now) for r in survivors}
    assert set().union(*owned.values()) == set(range(P))  # every partition watched
    assert sum(len(o) for o in owned.values()) == P  # by exactly one survivor
    assert max(map(len, owned.values())) - min(map(len, owned.values())) <= 1 + P // live // 8
    assert all(not owners(r, now) for r in replicas[live:])


def test_a_replica_gives_back_its_extra_share_when_another_joins() -> None:
    table = rebalance(Assignment.empty(P), "a", 0.0, TTL)
    assert len(table.owned_by("a", 0.0)) == P
    table = rebalance(table, "b", 0.1, TTL)  # b joins: everything is owned, b takes nothing
    assert not table.owned_by("b", 0.1)
    table = rebalance(table, "a", 0.2, TTL)  # a sees b short and gives back half
    table = rebalance(table, "b", 0.3, TTL)
    assert len(table.owned_by("a", 0.3)) == len(table.owned_by("b", 0.3)) == P // 2

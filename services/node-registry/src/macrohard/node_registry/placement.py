"""Placement at a million cars: choose a car for a lease without looking at the fleet.

`domain.place` scores every car serving the model: exact, and O(fleet) per lease. At a
million cars that is a second per lease. Here the cars that could take a lease now are kept
in an index, updated as they change (O(1) per change), and a lease looks at a bounded
sample of them:

- Cars are bucketed per model by *measured quality* (`quality`): the latency the platform
  measured on their calls (the planner's clock, never the car's word) times their record
  (leases completed rather than lost, disputes, unparks mid-work). A lease looks at the
  best non-empty bucket first.
- Within a bucket, up to `SAMPLE` cars drawn at random are scored in full (`domain.score`:
  free capacity, latency, how long the car stays parked, tenant spread) and the best wins.
  Drawing at random spreads load across equal cars; the sample is small enough that a
  lease costs the same at a thousand cars and at a million.
- A car that is full leaves its buckets and comes back when a lease on it ends, so samples
  are not spent on cars that cannot say yes. What changes with the clock alone (the
  owner's hours, liveness, a departure time) is checked on the sampled cars at choice time.

The index is pure (no I/O, time and randomness are arguments): the registry keeps one
fed from its log fold, and the offline fleet simulation keeps one for a million simulated
cars and calls the same `choose` (through `node_registry.public`):

    index = PlacementIndex()
    index.put(Candidate("car-17", frozenset({"minilm"}), max_leases=4, latency_ms=None,
                        trust=placement_factor(rep), expected_departure=leaves_at))  # parks
    got = choose(index, tenant_id="t1", model="minilm", ttl_s=60, now=at, rng=rng)
    if isinstance(got, Choice):
        index.leased(got.node_id, "t1", "minilm")     # ... index.ended(...) when it ends
    index.drop("car-17")                               # unparks, or is quarantined

`put` again whenever what the platform measured of a car changes (its latency, its record):
that moves it between tiers.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from macrohard.node_registry.domain import (
    LATENCY_SCALE_MS,
    Node,
    Refusal,
    fair_share,
    score_terms,
)
from macrohard.node_registry.preferences import NO_PREFERENCES, OwnerPreferences, within_hours

TIERS = 8
SAMPLE = 32  # cars scored per lease (per round)
ROUNDS = 4  # samples drawn before a bucket is given up as unusable right now


def quality(latency_ms: float | None, trust: float) -> float:
    """A car's measured quality in [0, 1]: its latency term times its record. A car not
    measured yet counts as LATENCY_SCALE_MS (middling): it is neither preferred to proven
    fast cars nor starved (its first calls are verified anyway)."""
    lat = LATENCY_SCALE_MS if latency_ms is None else max(latency_ms, 0.0)
    return min(max(trust, 0.0), 1.0) / (1.0 + lat / LATENCY_SCALE_MS)


def tier_of(q: float) -> int:
    return min(max(int(q * TIERS), 0), TIERS - 1)


@dataclass(slots=True)
class Candidate:
    """What placement needs to know of one car."""

    node_id: str
    models: frozenset[str]
    max_leases: int
    latency_ms: float | None = None  # as measured by the platform
    trust: float = 1.0  # reputation.placement_factor
    expected_departure: datetime | None = None
    prefs: OwnerPreferences = NO_PREFERENCES
    # Its quality tier, fixed with the figures above: a car whose figures change is `put`
    # again as a new Candidate (and every put, lease and end reads it).
    tier: int = field(init=False)

    def __post_init__(self) -> None:
        self.tier = tier_of(quality(self.latency_ms, self.trust))


def candidate_of(node: Node, *, latency_ms: float | None, trust: float) -> Candidate:
    """The registry's car as placement sees it, with what the platform measured of it."""
    return Candidate(
        node_id=node.node_id,
        models=node.models,
        max_leases=node.max_leases,
        latency_ms=latency_ms,
        trust=trust,
        expected_departure=node.expected_departure,
        prefs=node.prefs,
    )


@dataclass(frozen=True, slots=True)
class Choice:
    node_id: str
    score: float


class _Bag:
    """A set with O(1) add, remove and uniform random pick (list + positions)."""

    __slots__ = ("at", "items")

    def __init__(self) -> None:
        self.items: list[str] = []
        self.at: dict[str, int] = {}

    def add(self, item: str) -> None:
        if item not in self.at:
            self.at[item] = len(self.items)
            self.items.append(item)

    def remove(self, item: str) -> None:
        i = self.at.pop(item, None)
        if i is None:
            return
        last = self.items.pop()
        if i < len(self.items):
            self.items[i] = last
            self.at[last] = i

    def sample(self, k: int, rng: random.Random) -> list[str]:
        """Up to `k` items at random (all of them when there are no more than `k`). Drawn
        with replacement, duplicates dropped: half the cost of `random.sample`, which a
        lease pays on every round; in a bag larger than `k` a repeat is rare."""
        if len(self.items) <= k:
            return list(self.items)
        return list(dict.fromkeys(rng.choices(self.items, k=k)))


@dataclass
class PlacementIndex:
    """Cars that may take a lease (kept by the caller: `put` when a car becomes or stays
    eligible, `drop` when it stops), and the leases on them (`leased`, `ended`)."""

    cars: dict[str, Candidate] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    held_by: dict[tuple[str, str], int] = field(default_factory=dict)  # (node, tenant)
    tenant_leases: dict[str, dict[str, int]] = field(default_factory=dict)  # model->tenant->n
    capacity: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _bags: dict[str, list[_Bag]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cars)

    def put(self, car: Candidate) -> None:
        """Index `car` as eligible, replacing what was known of it (O(models))."""
        self.drop(car.node_id)
        self.cars[car.node_id] = car
        for model in car.models:
            self.capacity[model] += car.max_leases
        if self.held.get(car.node_id, 0) < car.max_leases:
            self._bag_in(car)

    def drop(self, node_id: str) -> None:
        """The car may not take leases now (left, lost, quarantined, below a floor)."""
        car = self.cars.pop(node_id, None)
        if car is None:
            return
        self._bag_out(car)
        for model in car.models:
            self.capacity[model] -= car.max_leases

    def leased(self, node_id: str, tenant_id: str, model: str) -> None:
        held = self.held[node_id] = self.held.get(node_id, 0) + 1
        key = (node_id, tenant_id)
        self.held_by[key] = self.held_by.get(key, 0) + 1
        per = self.tenant_leases.setdefault(model, {})
        per[tenant_id] = per.get(tenant_id, 0) + 1
        car = self.cars.get(node_id)
        if car is not None and held >= car.max_leases:
            self._bag_out(car)  # full: no sample is spent on it until a lease ends

    def ended(self, node_id: str, tenant_id: str, model: str) -> None:
        held = self.held.get(node_id, 0) - 1
        if held > 0:
            self.held[node_id] = held
        else:
            self.held.pop(node_id, None)
        key = (node_id, tenant_id)
        if self.held_by.get(key, 0) > 1:
            self.held_by[key] -= 1
        else:
            self.held_by.pop(key, None)
        per = self.tenant_leases.get(model, {})
        if per.get(tenant_id, 0) > 1:
            per[tenant_id] -= 1
        else:
            per.pop(tenant_id, None)
        car = self.cars.get(node_id)
        if car is not None and max(held, 0) < car.max_leases:
            self._bag_in(car)

    def tiers(self, model: str) -> list[_Bag]:
        bags = self._bags.get(model)
        if bags is None:
            bags = self._bags[model] = [_Bag() for _ in range(TIERS)]
        return bags

    def _bag_in(self, car: Candidate) -> None:
        tier = car.tier
        for model in car.models:
            self.tiers(model)[tier].add(car.node_id)

    def _bag_out(self, car: Candidate) -> None:
        tier = car.tier
        for model in car.models:
            self.tiers(model)[tier].remove(car.node_id)


def choose(
    index: PlacementIndex,
    *,
    tenant_id: str,
    model: str,
    ttl_s: float,
    now: datetime,
    rng: random.Random,
    alive: Callable[[str], bool] | None = None,
    exclude: Iterable[str] = (),
    sample: int = SAMPLE,
) -> Choice | Refusal:
    """The car for one lease, or why none: O(TIERS + sample x ROUNDS), whatever the fleet.

    Eligible: indexed for `model` with a free slot, within its owner's hours at `now`,
    `alive` (default: all), not excluded. Fair share as in `domain.place`: while another
    tenant holds leases on the model, a tenant holding ceil(capacity / tenants) of them is
    refused. Among the eligible of the best non-empty quality tier, a random sample of
    `sample` cars is scored in full and the best is chosen (ties: smaller id). A smaller
    sample is cheaper and spreads work more evenly; a larger one finds better cars.
    """
    capacity = index.capacity.get(model, 0)
    if capacity <= 0:
        return Refusal(f"no schedulable node for model {model!r}")
    per = index.tenant_leases.get(model, {})
    tenants = len(per) + (tenant_id not in per)
    mine = per.get(tenant_id, 0)
    if tenants > 1 and mine >= fair_share(capacity, tenants):
        return Refusal(f"tenant {tenant_id} holds its fair share ({mine} of {capacity} slots)")
    excluded = set(exclude)
    for bag in reversed(index.tiers(model)):
        if not bag.items:
            continue
        for _ in range(ROUNDS):
            best: tuple[float, str] | None = None
            for node_id in bag.sample(sample, rng):
                car = index.cars[node_id]
                if (
                    node_id in excluded
                    or not within_hours(car.prefs, now)
                    or (alive is not None and not alive(node_id))
                ):
                    continue
                s = car_score(index, car, tenant_id=tenant_id, ttl_s=ttl_s, now=now)
                if best is None or s > best[0] or (s == best[0] and node_id < best[1]):
                    best = (s, node_id)
            if best is not None:
                return Choice(best[1], best[0])
            if len(bag.items) <= sample:
                break  # the whole bucket was looked at: the next one
    return Refusal(f"every node serving {model!r} is fully leased or unavailable now")


def car_score(
    index: PlacementIndex, car: Candidate, *, tenant_id: str, ttl_s: float, now: datetime
) -> float:
    """`domain.score`'s terms for an indexed car, times its record (as `domain.place`)."""
    s = score_terms(
        max_leases=car.max_leases,
        held=index.held.get(car.node_id, 0),
        held_by_tenant=index.held_by.get((car.node_id, tenant_id), 0),
        latency_ms=LATENCY_SCALE_MS if car.latency_ms is None else car.latency_ms,
        expected_departure=car.expected_departure,
        ttl_s=ttl_s,
        now=now,
    )
    return s * car.trust if math.isfinite(car.trust) else 0.0

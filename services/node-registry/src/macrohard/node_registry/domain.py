"""The fleet's decisions, without I/O: folding node and lease events, schedulability,
placement of a lease, what to revoke, and which silent nodes are lost.

Everything here takes `now` as an argument, so tests drive time and hypothesis can explore it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from macrohard.contracts.envelope import Event
from macrohard.contracts.fleet import (
    DEFAULT_HEARTBEAT_INTERVAL_S,
    DEFAULT_MAX_LEASES,
    DEFAULT_SOC_FLOOR,
    LeaseGranted,
    LeaseReleased,
    LeaseRenewed,
    LeaseRevoked,
    NodeBatteryChanged,
    NodeChargingChanged,
    NodeLost,
    NodeParked,
    NodeQuarantined,
    NodeRecovered,
    NodeRegistered,
    NodeThrottled,
    NodeUnparked,
    OwnerPreferencesSet,
)

# Liveness lives in its own module; re-exported here, where the fleet's decisions are.
from macrohard.node_registry.liveness import MISSED_HEARTBEATS_TO_LOSE as MISSED_HEARTBEATS_TO_LOSE
from macrohard.node_registry.liveness import Liveness as Liveness
from macrohard.node_registry.preferences import (
    NO_PREFERENCES,
    OwnerPreferences,
    battery_allows,
    preference_problems,
    preferences_of,
    why_not,
    within_hours,
)

# Placement weights (sum 1). Free capacity first: a half-busy node answers slower; then
# latency and how long the car stays parked (a departing car means a preemption and a
# retry); tenant spread last, a tie-breaker that keeps one tenant off a single car.
W_FREE, W_LATENCY, W_STAY, W_SPREAD = 0.35, 0.25, 0.25, 0.15
LATENCY_SCALE_MS = 20.0  # latency score halves at 20 ms
STAY_HORIZON = 10  # a car parked for 10 lease lengths is as good as one parked forever


# --- What a car may declare -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChipSpec:
    """A chip's published figures: what a car of that chip may claim at most."""

    tops: float
    power_w: float
    memory_gb: float


# Known automotive inference chips. A car naming one is attested at most these figures; a
# car naming another is held to the generic bounds below (and to the smallest known power).
CHIPS: dict[str, ChipSpec] = {
    "nvidia-drive-orin": ChipSpec(tops=254.0, power_w=60.0, memory_gb=32.0),
    "nvidia-drive-thor": ChipSpec(tops=2000.0, power_w=130.0, memory_gb=128.0),
    "tesla-hw4": ChipSpec(tops=300.0, power_w=100.0, memory_gb=16.0),
    "qualcomm-ride": ChipSpec(tops=700.0, power_w=65.0, memory_gb=32.0),
}
UNKNOWN_CHIP = ChipSpec(tops=2000.0, power_w=60.0, memory_gb=128.0)


@dataclass(frozen=True, slots=True)
class DeclarationLimits:
    """Bounds on every figure a car declares about itself (issue 11.3: cars are believed
    about nothing unbounded). The heartbeat interval is bounded by the registry's own: a car
    declaring an hour would stay "alive" for three hours after it died, holding leases."""

    max_heartbeat_interval_s: float = 10.0
    max_leases: int = 16
    max_models: int = 16
    max_model_name: int = 64

    @property
    def min_heartbeat_interval_s(self) -> float:
        return self.max_heartbeat_interval_s / 10


def declaration_problems(event: NodeRegistered, limits: DeclarationLimits) -> list[str]:
    """Why a registration is refused ([] when every declared figure is within bounds)."""
    spec = CHIPS.get(event.chip, UNKNOWN_CHIP)
    problems = []
    if not 0 < event.power_w <= spec.power_w:
        problems.append(f"power_w {event.power_w} outside (0, {spec.power_w}] for {event.chip}")
    if not 0 < event.tops <= spec.tops:
        problems.append(f"tops {event.tops} outside (0, {spec.tops}] for {event.chip}")
    if not 0 <= event.memory_gb <= spec.memory_gb:
        problems.append(f"memory_gb {event.memory_gb} outside [0, {spec.memory_gb}]")
    if not 1 <= event.max_leases <= limits.max_leases:
        problems.append(f"max_leases {event.max_leases} outside [1, {limits.max_leases}]")
    lo, hi = limits.min_heartbeat_interval_s, limits.max_heartbeat_interval_s
    if not lo <= event.heartbeat_interval_s <= hi:
        problems.append(f"heartbeat_interval_s {event.heartbeat_interval_s} outside [{lo}, {hi}]")
    if not 0.0 <= event.soc_floor <= 1.0:
        problems.append(f"soc_floor {event.soc_floor} outside [0, 1]")
    if not 0 < len(event.models) <= limits.max_models or any(
        not 0 < len(m) <= limits.max_model_name for m in event.models
    ):
        problems.append(f"models {event.models[: limits.max_models]!r} not a short model list")
    return problems


@dataclass(frozen=True, slots=True)
class Node:
    node_id: str
    owner_account: str
    chip: str
    tops: float
    power_w: float
    models: frozenset[str]
    soc_floor: float = DEFAULT_SOC_FLOOR
    max_leases: int = DEFAULT_MAX_LEASES
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S
    memory_gb: float = 0.0
    parked: bool = False
    expected_departure: datetime | None = None
    charging: bool = False
    state_of_charge: float = 1.0
    throttled: bool = False
    lost: bool = False
    quarantined: bool = False
    prefs: OwnerPreferences = NO_PREFERENCES

    @property
    def state(self) -> str:
        """One word for dashboards: quarantined, lost, driving, throttled, low_battery,
        parked."""
        if self.quarantined:
            return "quarantined"
        if self.lost:
            return "lost"
        if not self.parked:
            return "driving"
        if self.throttled:
            return "throttled"
        if not self.charge_ok:
            return "low_battery"
        return "parked"

    @property
    def charge_ok(self) -> bool:
        """Above the registration's floor or plugged in (charging never drains the car),
        and in any case at or above the owner's minimum (the owner's line holds even while
        charging)."""
        return (self.charging or self.state_of_charge > self.soc_floor) and battery_allows(
            self.prefs, self.state_of_charge
        )

    def schedulable(self, model: str | None = None, now: datetime | None = None) -> bool:
        """Parked, not lost, not throttled, charge above the floors, serving `model` (when
        one is asked for) and, given `now`, within the owner's hours. Liveness beyond
        `lost` is the caller's."""
        return (
            self.parked
            and not self.lost
            and not self.quarantined
            and not self.throttled
            and self.charge_ok
            and (model is None or model in self.models)
            and (now is None or within_hours(self.prefs, now))
        )


@dataclass(frozen=True, slots=True)
class Lease:
    lease_id: str
    node_id: str
    tenant_id: str
    task_id: str
    model: str
    expires_at: datetime


@dataclass
class Fleet:
    """Nodes and active leases, folded from the log in order. Folding is idempotent per
    lease id and per node state, so applying a granted lease locally before its event comes
    back from the log changes nothing."""

    nodes: dict[str, Node] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)
    revoked: int = 0
    limits: DeclarationLimits = field(default_factory=DeclarationLimits)
    # Registrations refused for out-of-bound declarations: node id -> why (a refused car is
    # no node: it gets no lease, and a later valid registration admits it).
    refused: dict[str, str] = field(default_factory=dict)
    quarantined: set[str] = field(default_factory=set)
    # Owners' terms per car: kept apart from `nodes`, so a re-registration keeps them.
    preferences: dict[str, OwnerPreferences] = field(default_factory=dict)
    refused_preferences: dict[str, str] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        match event:
            case NodeRegistered():
                problems = declaration_problems(event, self.limits)
                if problems:
                    self.nodes.pop(event.node_id, None)
                    self.refused[event.node_id] = "; ".join(problems)
                    return
                self.refused.pop(event.node_id, None)
                self.nodes[event.node_id] = Node(
                    node_id=event.node_id,
                    owner_account=event.owner_account,
                    chip=event.chip,
                    tops=event.tops,
                    power_w=event.power_w,
                    memory_gb=event.memory_gb,
                    models=frozenset(event.models),
                    soc_floor=event.soc_floor,
                    max_leases=event.max_leases,
                    heartbeat_interval_s=event.heartbeat_interval_s,
                    # A re-registration does not wash a quarantine away.
                    quarantined=event.node_id in self.quarantined,
                    prefs=self.preferences.get(event.node_id, NO_PREFERENCES),
                )
            case OwnerPreferencesSet():
                problems = preference_problems(event)
                if problems:  # the previous terms stay in force
                    self.refused_preferences[event.node_id] = "; ".join(problems)
                    return
                self.refused_preferences.pop(event.node_id, None)
                prefs = self.preferences[event.node_id] = preferences_of(event)
                self._update(event.node_id, prefs=prefs)
            case NodeParked():
                self._update(
                    event.node_id, parked=True, expected_departure=event.expected_departure
                )
            case NodeUnparked():
                self._update(event.node_id, parked=False, expected_departure=None)
            case NodeLost():
                self._update(event.node_id, lost=True)
            case NodeRecovered():
                self._update(event.node_id, lost=False)
            case NodeQuarantined():
                self.quarantined.add(event.node_id)
                self._update(event.node_id, quarantined=True)
            case NodeChargingChanged():
                self._update(event.node_id, charging=event.charging)
            case NodeBatteryChanged():
                self._update(event.node_id, state_of_charge=event.state_of_charge)
            case NodeThrottled():
                self._update(event.node_id, throttled=event.throttled)
            case LeaseGranted():
                self.leases[event.lease_id] = Lease(
                    event.lease_id,
                    event.node_id,
                    event.tenant_id,
                    event.task_id,
                    event.model,
                    event.expires_at,
                )
            case LeaseRenewed():
                lease = self.leases.get(event.lease_id)
                if lease is not None:
                    self.leases[event.lease_id] = replace(lease, expires_at=event.expires_at)
            case LeaseReleased():
                self.leases.pop(event.lease_id, None)
            case LeaseRevoked():
                if self.leases.pop(event.lease_id, None) is not None:
                    self.revoked += 1

    def _update(self, node_id: str, **changes: object) -> None:
        node = self.nodes.get(node_id)
        if node is not None:  # state of a node never registered is meaningless
            self.nodes[node_id] = replace(node, **changes)  # type: ignore[arg-type]

    def held_by_node(self) -> dict[str, int]:
        held: dict[str, int] = defaultdict(int)
        for lease in self.leases.values():
            held[lease.node_id] += 1
        return held


# --- Placement -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placement:
    node: Node
    score: float


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str


def score(
    node: Node,
    *,
    held: int,
    held_by_tenant: int,
    latency_ms: float,
    ttl_s: float,
    now: datetime,
) -> float:
    """Higher is better; every term is in [0, 1]."""
    return score_terms(
        max_leases=node.max_leases,
        held=held,
        held_by_tenant=held_by_tenant,
        latency_ms=latency_ms,
        expected_departure=node.expected_departure,
        ttl_s=ttl_s,
        now=now,
    )


def score_terms(
    *,
    max_leases: int,
    held: int,
    held_by_tenant: int,
    latency_ms: float,
    expected_departure: datetime | None,
    ttl_s: float,
    now: datetime,
) -> float:
    """`score` from the figures it uses (what the placement index keeps per car)."""
    free = max(max_leases - held, 0) / max(max_leases, 1)
    latency = 1.0 / (1.0 + max(latency_ms, 0.0) / LATENCY_SCALE_MS)
    if expected_departure is None:
        stay = 1.0
    else:
        remaining = (expected_departure - now).total_seconds()
        stay = min(max(remaining, 0.0) / (ttl_s * STAY_HORIZON), 1.0)
    spread = 1.0 / (1.0 + held_by_tenant)
    return W_FREE * free + W_LATENCY * latency + W_STAY * stay + W_SPREAD * spread


def fair_share(capacity: int, tenants: int) -> int:
    """The most leases one tenant may hold on a model's nodes while others want them."""
    return math.ceil(capacity / max(tenants, 1))


def place(
    fleet: Fleet,
    *,
    tenant_id: str,
    model: str,
    ttl_s: float,
    now: datetime,
    alive: Mapping[str, bool] | None = None,
    latency_ms: Mapping[str, float] | None = None,
    trust: Mapping[str, float] | None = None,
    exclude: Iterable[str] = (),
) -> Placement | Refusal:
    """Choose the node for a lease, or say why none.

    Eligible: schedulable for `model`, alive (per `alive`, default all), not excluded, with a
    free lease slot. A tenant holding its fair share of the model's capacity while another
    tenant holds leases there is refused, so one tenant cannot starve the others. Among the
    eligible, the highest score wins; ties go to the smaller node id (deterministic). `trust`
    (a car's measured record, in (0, 1], default 1) scales its score.
    """
    excluded = set(exclude)
    serving = [n for n in fleet.nodes.values() if model in n.models]
    if not serving:
        return Refusal(f"no node serves model {model!r}")
    held = fleet.held_by_node()
    usable = [
        n
        for n in serving
        if n.schedulable(model, now)
        and (alive is None or alive.get(n.node_id, False))
        and n.node_id not in excluded
    ]
    if not usable:
        return Refusal(f"no schedulable node for model {model!r}")
    usable_ids = {n.node_id for n in usable}
    capacity = sum(n.max_leases for n in usable)
    mine_by_node: dict[str, int] = defaultdict(int)
    tenants: set[str] = {tenant_id}
    mine = 0
    for lease in fleet.leases.values():
        if lease.node_id in usable_ids:
            tenants.add(lease.tenant_id)
            if lease.tenant_id == tenant_id:
                mine += 1
                mine_by_node[lease.node_id] += 1
    share = fair_share(capacity, len(tenants))
    if len(tenants) > 1 and mine >= share:
        return Refusal(f"tenant {tenant_id} holds its fair share ({mine} of {capacity} slots)")
    free = [n for n in usable if held.get(n.node_id, 0) < n.max_leases]
    if not free:
        return Refusal(f"every node serving {model!r} is fully leased")
    lat = latency_ms or {}
    trusted = trust or {}
    best = max(
        free,
        key=lambda n: (
            score(
                n,
                held=held.get(n.node_id, 0),
                held_by_tenant=mine_by_node.get(n.node_id, 0),
                latency_ms=lat.get(n.node_id, 0.0),
                ttl_s=ttl_s,
                now=now,
            )
            * trusted.get(n.node_id, 1.0),
            # max() keeps the first maximum; invert the id so the smaller id wins ties.
            [-ord(c) for c in n.node_id],
        ),
    )
    return Placement(
        best,
        score(
            best,
            held=held.get(best.node_id, 0),
            held_by_tenant=mine_by_node.get(best.node_id, 0),
            latency_ms=lat.get(best.node_id, 0.0),
            ttl_s=ttl_s,
            now=now,
        ),
    )


def revocations(fleet: Fleet, now: datetime) -> list[tuple[Lease, str]]:
    """Leases that must end now, with the reason: the car left, was lost, vanished, or the
    holder stopped renewing. A throttled or low-battery car finishes its current leases: it
    only stops getting new ones."""
    out: list[tuple[Lease, str]] = []
    for lease in fleet.leases.values():
        node = fleet.nodes.get(lease.node_id)
        if node is None:
            out.append((lease, "unknown node"))
        elif node.lost:
            out.append((lease, "lost"))
        elif node.quarantined:
            out.append((lease, "quarantined"))
        elif not node.parked:
            out.append((lease, "unparked"))
        elif why := why_not(node.prefs, node.state_of_charge, now):
            out.append((lease, why))
        elif lease.expires_at <= now:
            out.append((lease, "expired"))
    return out

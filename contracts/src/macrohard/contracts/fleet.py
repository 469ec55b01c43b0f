"""Parked cars as compute nodes, and leases of their compute (owned by the node registry).

Nodes and leases are platform aggregates: they live under the reserved tenant `_platform`.
Heartbeats and battery ticks are telemetry (KV), never events; a *change* they reveal
(a node lost) is an event.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from macrohard.contracts.envelope import Event
from macrohard.contracts.subjects import PLATFORM_TENANT, type_filter

# Core NATS subjects of the fleet (telemetry and request-reply: never the durable log).
HEARTBEAT_PREFIX = "fleet.hb"  # fleet.hb.<node_id>, one Heartbeat per interval
LEASE_REQUEST = "fleet.lease.request"  # LeaseRequest -> LeaseReply
LEASE_RENEW = "fleet.lease.renew"  # LeaseRenewal -> LeaseReply
LEASE_RELEASE = "fleet.lease.release"  # LeaseRelease -> LeaseReply
FLEET_STATS = "fleet.stats"  # empty -> FleetStats
# A core subscription on the log's own subject: a lease holder hears of a revocation as it
# is stored, without a consumer of its own.
LEASE_REVOCATIONS = type_filter("LeaseRevoked", aggregate_type="lease", tenant=PLATFORM_TENANT)


# A node's limits and their defaults, in one place: the car registers them (NodeRegistered),
# its agent starts with them and the registry keeps them per node.
DEFAULT_SOC_FLOOR = 0.2  # below this charge (and not charging) a car takes no work
DEFAULT_MAX_LEASES = 4
DEFAULT_HEARTBEAT_INTERVAL_S = 10.0


class NodeRegistered(Event, frozen=True, kw_only=True):
    aggregate_type = "node"

    node_id: str
    owner_account: str
    chip: str
    tops: float
    memory_gb: float
    power_w: float
    models: list[str]
    triton_http_url: str
    triton_grpc_url: str = ""
    soc_floor: float = DEFAULT_SOC_FLOOR
    # Concurrent leases the node accepts (its free capacity is max_leases - held).
    max_leases: int = DEFAULT_MAX_LEASES
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S


class NodeParked(Event, frozen=True, kw_only=True):
    aggregate_type = "node"

    node_id: str
    expected_departure: datetime | None = None


class NodeUnparked(Event, frozen=True, kw_only=True):
    aggregate_type = "node"

    node_id: str


class NodeLost(Event, frozen=True, kw_only=True):
    aggregate_type = "node"

    node_id: str
    last_seen: datetime | None = None


class NodeRecovered(Event, frozen=True, kw_only=True):
    """A node declared lost heartbeats again (a tunnel, a modem restart)."""

    aggregate_type = "node"

    node_id: str


class NodeChargingChanged(Event, frozen=True, kw_only=True):
    aggregate_type = "node"

    node_id: str
    charging: bool


class NodeBatteryChanged(Event, frozen=True, kw_only=True):
    """State of charge crossed a reporting step (not every tick: that is telemetry)."""

    aggregate_type = "node"

    node_id: str
    state_of_charge: float


class NodeThrottled(Event, frozen=True, kw_only=True):
    aggregate_type = "node"

    node_id: str
    throttled: bool


class LeaseGranted(Event, frozen=True, kw_only=True):
    aggregate_type = "lease"

    lease_id: str
    node_id: str
    tenant_id: str
    task_id: str
    model: str
    expires_at: datetime


class LeaseRenewed(Event, frozen=True, kw_only=True):
    aggregate_type = "lease"

    lease_id: str
    expires_at: datetime


class LeaseReleased(Event, frozen=True, kw_only=True):
    aggregate_type = "lease"

    lease_id: str
    node_id: str
    task_id: str


class LeaseRevoked(Event, frozen=True, kw_only=True):
    aggregate_type = "lease"

    lease_id: str
    node_id: str
    tenant_id: str
    task_id: str
    reason: str


EVENTS: tuple[type[Event], ...] = (
    NodeRegistered,
    NodeParked,
    NodeUnparked,
    NodeLost,
    NodeRecovered,
    NodeChargingChanged,
    NodeBatteryChanged,
    NodeThrottled,
    LeaseGranted,
    LeaseRenewed,
    LeaseReleased,
    LeaseRevoked,
)


# --- Telemetry and request-reply shapes (core NATS, not events) ---------------------------


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Liveness plus live gauges, every interval on `fleet.hb.<node_id>`.

    array_like: ~40 bytes on the wire, because at 100,000 cars these are 10,000 msgs/s.
    """

    node_id: str
    seq: int
    state_of_charge: float = 1.0
    inflight: int = 0
    latency_ms: float = 0.0


class LeaseRequest(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    task_id: str
    model: str
    ttl_s: float = 60.0
    exclude_nodes: list[str] = []


class LeaseRenewal(msgspec.Struct, frozen=True, kw_only=True):
    lease_id: str
    ttl_s: float = 60.0


class LeaseRelease(msgspec.Struct, frozen=True, kw_only=True):
    lease_id: str


class LeaseReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """`ok` False carries `error`; a granted lease names the node and how to reach it."""

    ok: bool
    error: str = ""
    lease_id: str = ""
    node_id: str = ""
    owner_account: str = ""
    triton_http_url: str = ""
    triton_grpc_url: str = ""
    power_w: float = 0.0
    expires_at: datetime | None = None


class FleetStats(msgspec.Struct, frozen=True, kw_only=True):
    """The registry's live view (heartbeat-aware), for the simulator and the benchmark."""

    nodes: int
    alive: int
    parked: int
    schedulable: int
    schedulable_tops: float
    schedulable_watts: float
    leases: int
    revoked: int
    lost: int
    heartbeats: int

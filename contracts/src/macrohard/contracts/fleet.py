"""Parked cars as compute nodes, and leases of their compute (owned by the node registry).

Nodes and leases are platform aggregates: they live under the reserved tenant `_platform`.
Heartbeats and battery ticks are telemetry (KV), never events; a *change* they reveal
(a node lost) is an event.
"""

from __future__ import annotations

import zlib
from datetime import datetime

import msgspec

from macrohard.contracts.envelope import Event
from macrohard.contracts.subjects import PLATFORM_TENANT, type_filter

# Core NATS subjects of the fleet (telemetry and request-reply: never the durable log).
HEARTBEAT_PREFIX = "fleet.hb"  # fleet.hb.<partition>.<node_id>, one Heartbeat per interval
# Cars are partitioned among registry replicas by a hash of the car id. The count is part of
# the contract (a car puts its partition in its heartbeat subject, and its NATS permissions
# name that subject), so it is fixed and generous: replicas share partitions, never split one.
PARTITIONS = 64


def partition_of(node_id: str) -> int:
    """The car's partition: stable across processes and Python versions (CRC-32, not hash())."""
    return zlib.crc32(node_id.encode()) % PARTITIONS


def heartbeat_subject(node_id: str) -> str:
    return f"{HEARTBEAT_PREFIX}.{partition_of(node_id)}.{node_id}"


def heartbeat_filter(partition: int) -> str:
    """Every heartbeat of one partition (what the replica owning it subscribes to)."""
    return f"{HEARTBEAT_PREFIX}.{partition}.*"


LEASE_REQUEST = "fleet.lease.request"  # LeaseRequest -> LeaseReply
LEASE_RENEW = "fleet.lease.renew"  # LeaseRenewal -> LeaseReply
LEASE_RELEASE = "fleet.lease.release"  # LeaseRelease -> LeaseReply
FLEET_STATS = "fleet.stats"  # empty -> FleetStats
# fleet.infer.<node_id>: InferenceRequest -> InferenceReply. Cars dial out: a car subscribes to
# its own subject and answers there, so nothing on the platform ever connects to a car (a car
# on a mobile network accepts no inbound connection, and a declared URL would be an SSRF).
INFER_PREFIX = "fleet.infer"
# The registry replicas' shared KV bucket: the partition table and each car's lease slots.
REGISTRY_BUCKET = "fleet-registry"


def infer_subject(node_id: str) -> str:
    """The one subject a car takes inference work on."""
    return f"{INFER_PREFIX}.{node_id}"


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
    # Kept so that old registrations still decode; nothing dials them (work goes over the bus).
    triton_http_url: str = ""
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


class NodeQuarantined(Event, frozen=True, kw_only=True):
    """The registry stops leasing a car whose answers lost verification disputes."""

    aggregate_type = "node"

    node_id: str
    reason: str
    disputes_lost: int


class NodeChargingChanged(Event, frozen=True, kw_only=True):
    aggregate_type = "node"

    node_id: str
    charging: bool


class NodeBatteryChanged(Event, frozen=True, kw_only=True):
    """State of charge crossed a reporting step (not every tick: that is telemetry)."""

    aggregate_type = "node"

    node_id: str
    state_of_charge: float


ALL_HOURS = tuple(range(24))


class OwnerPreferencesSet(Event, frozen=True, kw_only=True):
    """The car's owner says when the car may work: never below `min_state_of_charge` (not
    even while charging: it is the owner's line, not the platform's safety floor), and only
    in `work_hours` (hours of the day, 0-23, on the car's own clock in `time_zone`, an IANA
    name). The registry refuses an out-of-bound declaration and keeps the previous one."""

    aggregate_type = "node"

    node_id: str
    min_state_of_charge: float = 0.0
    work_hours: list[int] = msgspec.field(default_factory=lambda: list(ALL_HOURS))
    time_zone: str = "UTC"


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
    NodeQuarantined,
    NodeChargingChanged,
    NodeBatteryChanged,
    NodeThrottled,
    OwnerPreferencesSet,
    LeaseGranted,
    LeaseRenewed,
    LeaseReleased,
    LeaseRevoked,
)


# --- Telemetry and request-reply shapes (core NATS, not events) ---------------------------


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Liveness plus live gauges, every interval on `fleet.hb.<partition>.<node_id>`.

    array_like: ~40 bytes on the wire, because at 100,000 cars these are 10,000 msgs/s.
    """

    node_id: str
    seq: int
    state_of_charge: float = 1.0
    inflight: int = 0
    # The car's own gauge, for its owner's dashboard: placement and billing never use it
    # (they use the platform's clock on each call).
    latency_ms: float = 0.0


class WireTensor(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One KServe v2 tensor on the bus: numbers as raw little-endian bytes, BYTES tensors as
    a list of items (row-major). `macrohard.contracts.tensors` converts to and from numpy."""

    name: str
    datatype: str  # KServe v2 name: BYTES, FP32, INT64, ...
    shape: list[int]
    data: bytes = b""
    items: list[bytes] = []


class InferenceRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The platform asks a leased car to run `model` (msgpack on `fleet.infer.<node_id>`)."""

    lease_id: str
    model: str
    inputs: list[WireTensor]
    outputs: list[str]


class InferenceReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The car's answer. It carries outputs only: what the call cost is measured by the
    platform's own clock, so there is no field in which a car could claim a figure."""

    ok: bool
    error: str = ""
    outputs: list[WireTensor] = []


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
    # The registry-attested chip power (bounded by the chip's spec), never the car's word.
    power_w: float = 0.0
    # Share of this car's calls to re-execute on another car (1.0 for a new car).
    verify_share: float = 0.0
    expires_at: datetime | None = None


class FleetStats(msgspec.Struct, frozen=True, kw_only=True):
    """One registry replica's live view (heartbeat-aware), for the simulator and the
    benchmark. `alive` and `heartbeats` cover the partitions this replica owns."""

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
    replica: str = ""
    partitions: list[int] = []

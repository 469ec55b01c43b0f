"""Parked cars as compute nodes, and leases of their compute (owned by the node registry).

Nodes and leases are platform aggregates: they live under the reserved tenant `_platform`.
Heartbeats and battery ticks are telemetry (KV), never events; a *change* they reveal
(a node lost) is an event.
"""

from __future__ import annotations

from datetime import datetime

from macrohard.contracts.envelope import Event


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
    soc_floor: float = 0.2


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
    NodeChargingChanged,
    NodeBatteryChanged,
    NodeThrottled,
    LeaseGranted,
    LeaseRenewed,
    LeaseReleased,
    LeaseRevoked,
)

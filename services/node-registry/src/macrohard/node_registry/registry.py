"""The registry's live state and its effects: the log fold plus heartbeats, leases, losses.

One active registry per fleet: its in-memory `Fleet` is rebuilt from the log on start
(node and lease events from sequence 1), then kept live. Heartbeats arrive on core NATS and
only touch `Liveness`; what they reveal (a node lost or back) is appended as an event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from macrohard.contracts import PLATFORM_TENANT, RecordedEvent, envelope
from macrohard.contracts.envelope import Envelope, Event, derived_event_id, new_event_id, utcnow
from macrohard.contracts.fleet import (
    DEFAULT_HEARTBEAT_INTERVAL_S,
    FleetStats,
    Heartbeat,
    LeaseGranted,
    LeaseRelease,
    LeaseReleased,
    LeaseRenewal,
    LeaseRenewed,
    LeaseReply,
    LeaseRequest,
    LeaseRevoked,
    NodeLost,
    NodeRecovered,
    NodeRegistered,
)
from macrohard.eventlog.store import EventStore
from macrohard.node_registry.domain import Fleet, Lease, Liveness, Placement, place, revocations

log = logging.getLogger("macrohard.node_registry")

MAX_TTL_S = 600.0


class Registry:
    def __init__(
        self,
        store: EventStore,
        *,
        heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.fleet = Fleet()
        self.liveness = Liveness(heartbeat_interval_s)
        self.latency_ms: dict[str, float] = {}
        self.heartbeats = 0
        self.live = False  # False while replaying the log: no reactions to history
        self._mono = monotonic
        self._wall = wall

    # --- the log -----------------------------------------------------------------------

    async def on_event(self, rec: RecordedEvent) -> None:
        """Fold one node or lease event; once live, react to what it changed."""
        event = rec.payload
        self.fleet.apply(event)
        if isinstance(event, NodeRegistered):
            self.liveness.intervals[event.node_id] = event.heartbeat_interval_s
            if self.live and event.node_id not in self.liveness.last_seen:
                # Registered but not heard yet: give it the full grace of 3 intervals.
                self.liveness.beat(event.node_id, self._mono())
        if self.live:
            await self.revoke_due(cause=rec.envelope)

    async def caught_up(self) -> None:
        """The log is replayed: start the clocks of every known node and reconcile once."""
        now = self._mono()
        for node_id, node in self.fleet.nodes.items():
            self.liveness.intervals[node_id] = node.heartbeat_interval_s
            if not node.lost and node_id not in self.liveness.last_seen:
                self.liveness.beat(node_id, now)
        self.live = True
        await self.revoke_due()

    # --- heartbeats --------------------------------------------------------------------

    async def on_heartbeat(self, beat: Heartbeat) -> None:
        self.heartbeats += 1
        if beat.latency_ms > 0:
            self.latency_ms[beat.node_id] = beat.latency_ms
        if self.liveness.beat(beat.node_id, self._mono()) or (
            (node := self.fleet.nodes.get(beat.node_id)) is not None and node.lost
        ):
            await self._append_node(NodeRecovered(node_id=beat.node_id), beat.node_id)

    async def sweep(self) -> list[str]:
        """Declare silent nodes lost (once each) and revoke what must end."""
        lost = []
        for node_id in self.liveness.sweep(self._mono()):
            node = self.fleet.nodes.get(node_id)
            if node is None or node.lost:
                continue  # heartbeats without a registration are not a node yet
            seen_ago = self._mono() - self.liveness.last_seen.get(node_id, self._mono())
            event = NodeLost(node_id=node_id, last_seen=self._wall() - timedelta(seconds=seen_ago))
            await self._append_node(event, node_id)
            lost.append(node_id)
            log.warning("node lost", extra={"node_id": node_id, "silent_s": round(seen_ago, 2)})
        await self.revoke_due()
        return lost

    async def _append_node(self, event: Event, node_id: str) -> None:
        env = envelope(event, tenant=PLATFORM_TENANT, aggregate_id=node_id)
        await self.store.append([env], expected_version=None)
        self.fleet.apply(event)

    # --- leases ------------------------------------------------------------------------

    def alive_map(self) -> dict[str, bool]:
        now = self._mono()
        return {n: self.liveness.alive(n, now) for n in self.fleet.nodes}

    async def grant(self, req: LeaseRequest) -> LeaseReply:
        ttl = min(max(req.ttl_s, 1.0), MAX_TTL_S)
        now = self._wall()
        decision = place(
            self.fleet,
            tenant_id=req.tenant_id,
            model=req.model,
            ttl_s=ttl,
            now=now,
            alive=self.alive_map(),
            latency_ms=self.latency_ms,
            exclude=req.exclude_nodes,
        )
        if not isinstance(decision, Placement):
            return LeaseReply(ok=False, error=decision.reason)
        node = decision.node
        lease_id = new_event_id()
        event = LeaseGranted(
            lease_id=lease_id,
            node_id=node.node_id,
            tenant_id=req.tenant_id,
            task_id=req.task_id,
            model=req.model,
            expires_at=now + timedelta(seconds=ttl),
        )
        env = envelope(event, tenant=PLATFORM_TENANT, aggregate_id=lease_id)
        await self.store.append([env], expected_version=0)
        # Applied now, not when the event comes back: the next request must see the slot taken.
        self.fleet.apply(event)
        return LeaseReply(
            ok=True,
            lease_id=lease_id,
            node_id=node.node_id,
            owner_account=node.owner_account,
            triton_http_url=node.triton_http_url,
            triton_grpc_url=node.triton_grpc_url,
            power_w=node.power_w,
            expires_at=event.expires_at,
        )

    async def renew(self, req: LeaseRenewal) -> LeaseReply:
        lease = self.fleet.leases.get(req.lease_id)
        if lease is None:
            return LeaseReply(ok=False, error=f"lease {req.lease_id} is not active")
        expires = self._wall() + timedelta(seconds=min(max(req.ttl_s, 1.0), MAX_TTL_S))
        event = LeaseRenewed(lease_id=lease.lease_id, expires_at=expires)
        await self.store.append(
            [envelope(event, tenant=PLATFORM_TENANT, aggregate_id=lease.lease_id)],
            expected_version=None,
        )
        self.fleet.apply(event)
        return LeaseReply(
            ok=True, lease_id=lease.lease_id, node_id=lease.node_id, expires_at=expires
        )

    async def release(self, req: LeaseRelease) -> LeaseReply:
        lease = self.fleet.leases.get(req.lease_id)
        if lease is None:
            return LeaseReply(ok=True, lease_id=req.lease_id)  # already over: same outcome
        event = LeaseReleased(lease_id=lease.lease_id, node_id=lease.node_id, task_id=lease.task_id)
        env = envelope(
            event,
            tenant=PLATFORM_TENANT,
            aggregate_id=lease.lease_id,
            event_id=derived_event_id(lease.lease_id, "end"),
        )
        await self.store.append([env], expected_version=None)
        self.fleet.apply(event)
        return LeaseReply(ok=True, lease_id=lease.lease_id, node_id=lease.node_id)

    async def revoke_due(self, cause: Envelope | None = None) -> int:
        due = revocations(self.fleet, self._wall())
        for lease, reason in due:
            await self._revoke(lease, reason, cause)
        return len(due)

    async def _revoke(self, lease: Lease, reason: str, cause: Envelope | None) -> None:
        event = LeaseRevoked(
            lease_id=lease.lease_id,
            node_id=lease.node_id,
            tenant_id=lease.tenant_id,
            task_id=lease.task_id,
            reason=reason,
        )
        # One end per lease, whoever decides it and however often: the id is the lease's.
        env = envelope(
            event,
            tenant=PLATFORM_TENANT,
            aggregate_id=lease.lease_id,
            event_id=derived_event_id(lease.lease_id, "end"),
            correlation_id=cause.correlation_id if cause else None,
            causation_id=cause.id if cause else None,
        )
        await self.store.append([env], expected_version=None)
        self.fleet.apply(event)
        log.info("lease revoked", extra={"lease_id": lease.lease_id, "reason": reason})

    def stats(self) -> FleetStats:
        alive = self.alive_map()
        nodes = self.fleet.nodes.values()
        sched = [n for n in nodes if n.schedulable() and alive.get(n.node_id, False)]
        return FleetStats(
            nodes=len(self.fleet.nodes),
            alive=sum(alive.values()),
            parked=sum(1 for n in nodes if n.parked),
            schedulable=len(sched),
            schedulable_tops=sum(n.tops for n in sched),
            schedulable_watts=sum(n.power_w for n in sched),
            leases=len(self.fleet.leases),
            revoked=self.fleet.revoked,
            lost=sum(1 for n in nodes if n.lost),
            heartbeats=self.heartbeats,
        )

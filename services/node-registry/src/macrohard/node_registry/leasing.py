"""Lease requests served from a replica's live state: grant, renew, release.

Why request-reply and not events: "which car, now?" is a synchronous question; the answer
is recorded as an event (LeaseGranted) by the replica that decides it. A grant is chosen by
the placement index (`placement.choose`: O(sample), whatever the fleet) and gated across
replicas by compare-and-set on the car's slots (`slots.py`); a renewal past the owner's
terms is refused (the sweep revokes the lease: one end per lease).
"""

from __future__ import annotations

from datetime import timedelta

from macrohard.contracts import PLATFORM_TENANT, envelope
from macrohard.contracts.envelope import derived_event_id, new_event_id
from macrohard.contracts.fleet import (
    LeaseGranted,
    LeaseRelease,
    LeaseReleased,
    LeaseRenewal,
    LeaseRenewed,
    LeaseReply,
    LeaseRequest,
)
from macrohard.node_registry.placement import Choice, choose
from macrohard.node_registry.preferences import why_not
from macrohard.node_registry.registry import PLACEMENT_TRIES, Registry
from macrohard.node_registry.reputation import verify_share


class LeaseDesk:
    def __init__(self, registry: Registry) -> None:
        self.r = registry

    async def grant(self, req: LeaseRequest) -> LeaseReply:
        ttl = min(max(req.ttl_s, 1.0), self.r.max_ttl_s)
        now = self.r.wall()
        excluded = set(req.exclude_nodes)
        alive = self.r.alive_map()
        self.r.refresh()
        for _ in range(PLACEMENT_TRIES):
            decision = choose(
                self.r.index,
                tenant_id=req.tenant_id,
                model=req.model,
                ttl_s=ttl,
                now=now,
                rng=self.r.rng,
                alive=lambda n: alive.get(n, False),
                exclude=excluded,
            )
            if not isinstance(decision, Choice):
                return LeaseReply(ok=False, error=self._refusal(req.model, decision.reason))
            node = self.r.fleet.nodes[decision.node_id]
            lease_id = new_event_id()
            if self.r.slots is None or await self.r.slots.claim(
                node.node_id,
                lease_id,
                node.max_leases,
                active=self.r.fleet.leases,
                ended=self.r.ended,
            ):
                break
            excluded.add(node.node_id)  # another replica took its last slot: next best
        else:
            return LeaseReply(ok=False, error="every candidate car was taken meanwhile")
        event = LeaseGranted(
            lease_id=lease_id,
            node_id=node.node_id,
            tenant_id=req.tenant_id,
            task_id=req.task_id,
            model=req.model,
            expires_at=now + timedelta(seconds=ttl),
        )
        env = envelope(event, tenant=PLATFORM_TENANT, aggregate_id=lease_id)
        await self.r.store.append([env], expected_version=0)
        # Applied now, not when the event comes back: the next request must see the slot taken.
        self.r.fold(event)
        return LeaseReply(
            ok=True,
            lease_id=lease_id,
            node_id=node.node_id,
            owner_account=node.owner_account,
            power_w=node.power_w,
            verify_share=verify_share(self.r.rep(node.node_id), self.r.base_verify_share),
            expires_at=event.expires_at,
        )

    def _refusal(self, model: str, reason: str) -> str:
        """The index knows only eligible cars: say so when no car serves the model at all."""
        if self.r.index.capacity.get(model, 0) <= 0 and not any(
            model in n.models for n in self.r.fleet.nodes.values()
        ):
            return f"no node serves model {model!r}"
        return reason

    async def renew(self, req: LeaseRenewal) -> LeaseReply:
        lease = self.r.fleet.leases.get(req.lease_id)
        if lease is None:
            return LeaseReply(ok=False, error=f"lease {req.lease_id} is not active")
        node = self.r.fleet.nodes.get(lease.node_id)
        if node is not None and (why := why_not(node.prefs, node.state_of_charge, self.r.wall())):
            # Not renewed past the owner's terms; the sweep revokes it (one end per lease).
            return LeaseReply(ok=False, error=f"lease {req.lease_id} not renewed: {why}")
        expires = self.r.wall() + timedelta(seconds=min(max(req.ttl_s, 1.0), self.r.max_ttl_s))
        event = LeaseRenewed(lease_id=lease.lease_id, expires_at=expires)
        await self.r.store.append(
            [envelope(event, tenant=PLATFORM_TENANT, aggregate_id=lease.lease_id)],
            expected_version=None,
        )
        self.r.fold(event)
        return LeaseReply(
            ok=True, lease_id=lease.lease_id, node_id=lease.node_id, expires_at=expires
        )

    async def release(self, req: LeaseRelease) -> LeaseReply:
        lease = self.r.fleet.leases.get(req.lease_id)
        if lease is None:
            return LeaseReply(ok=True, lease_id=req.lease_id)  # already over: same outcome
        event = LeaseReleased(lease_id=lease.lease_id, node_id=lease.node_id, task_id=lease.task_id)
        env = envelope(
            event,
            tenant=PLATFORM_TENANT,
            aggregate_id=lease.lease_id,
            event_id=derived_event_id(lease.lease_id, "end"),
        )
        await self.r.store.append([env], expected_version=None)
        self.r.fold(event)
        self.r.mark_ended(lease.lease_id)
        return LeaseReply(ok=True, lease_id=lease.lease_id, node_id=lease.node_id)

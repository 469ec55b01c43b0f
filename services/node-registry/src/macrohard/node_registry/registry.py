"""One registry replica's live state and its effects: the log fold plus heartbeats, leases,
losses.

Any number of replicas run at once. Each rebuilds the whole `Fleet` from the log on start
(node and lease events from sequence 1) and keeps it live, so each can place a lease on any
car; the grant itself is gated by a compare-and-set on the car's lease slots in KV
(`slots.py`), so two replicas never grant the same capacity. Watching cars is partitioned
(`ownership.py`): a replica absorbs the heartbeats of the partitions it owns, declares their
silent cars lost (NodeLost) and revokes the leases on them; a car of another replica's
partition counts as alive until its owner says otherwise. Heartbeats only touch `Liveness`;
what they reveal (a node lost or back) is appended as an event.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from itertools import repeat
from operator import lt

from macrohard.contracts import PLATFORM_TENANT, RecordedEvent, envelope
from macrohard.contracts.agent import InferenceCompleted, InferenceDisputed, InferenceVerified
from macrohard.contracts.envelope import Envelope, Event, derived_event_id, utcnow
from macrohard.contracts.fleet import (
    DEFAULT_HEARTBEAT_INTERVAL_S,
    FleetStats,
    LeaseGranted,
    LeaseReleased,
    LeaseRevoked,
    NodeBatteryChanged,
    NodeLost,
    NodeQuarantined,
    NodeRecovered,
    NodeRegistered,
    partition_of,
)
from macrohard.eventlog.store import EventStore
from macrohard.node_registry.domain import (
    MISSED_HEARTBEATS_TO_LOSE,
    DeclarationLimits,
    Fleet,
    Lease,
    Liveness,
    revocations,
)
from macrohard.node_registry.placement import PlacementIndex, candidate_of
from macrohard.node_registry.preferences import crosses_minimum
from macrohard.node_registry.reputation import (
    DEFAULT_VERIFY_SHARE,
    Reputation,
    answered,
    checked,
    placement_factor,
    quarantine_due,
)
from macrohard.node_registry.slots import SlotBook

log = logging.getLogger("macrohard.node_registry")

# A lease lives at most this long without a renewal: a dead planner's leases end within the
# loss-detection time (3 intervals of 10 s) rather than holding a car for minutes.
MAX_TTL_S = 30.0
PLACEMENT_TRIES = 4  # cars to try when other replicas keep taking the chosen one's last slot
ENDED_KEPT = 100_000  # recently ended lease ids remembered for the slot book
# A sweep without a loss reconciles revocations (expiry, owners' hours: a pass over every
# lease) at most this often; one that declared a car lost does it at once.
RECONCILE_S = 0.5


class _Alive(Mapping[str, bool]):
    """Placement's liveness view: heartbeats for the cars this replica watches; a car of
    another replica's partition is alive until its owner declares it lost (an event)."""

    def __init__(self, registry: Registry, now: float) -> None:
        self._r = registry
        self._now = now

    def __getitem__(self, node_id: str) -> bool:
        if node_id not in self._r.fleet.nodes:
            raise KeyError(node_id)
        if self._r.owns(node_id):
            return self._r.liveness.alive(node_id, self._now)
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._r.fleet.nodes)

    def __len__(self) -> int:
        return len(self._r.fleet.nodes)


class Registry:
    def __init__(
        self,
        store: EventStore,
        *,
        heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S,
        slots: SlotBook | None = None,
        replica: str = "",
        base_verify_share: float = DEFAULT_VERIFY_SHARE,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.fleet = Fleet(limits=DeclarationLimits(max_heartbeat_interval_s=heartbeat_interval_s))
        self.liveness = Liveness(heartbeat_interval_s)
        self.latency_ms: dict[str, float] = {}
        self.heartbeats = 0
        self.live = False  # False while replaying the log: no reactions to history
        self.replica = replica
        # None: the only replica (tests, a registry without KV); else the cross-replica gate.
        self.slots = slots
        self.owned: set[int] = set()
        self.by_partition: dict[int, set[str]] = {}
        self.ended: dict[str, None] = {}  # recently ended lease ids, oldest first
        self.reputation: dict[str, Reputation] = {}
        self.base_verify_share = base_verify_share
        self.index = PlacementIndex()
        self.stale: set[str] = set()  # cars whose record changed since the last placement
        self.rng = random.Random()
        # Cars whose heartbeat revealed something worth an event (back from lost, charge
        # across the owner's minimum): node id -> reported charge. The heartbeat path only
        # notes them; `attend` writes the events.
        self.attention: dict[str, float] = {}
        self.attention_due = asyncio.Event()
        # What the heartbeat path compares against, kept by `fold` so that a read of beats
        # is checked in a few C-level passes: the owner's minimum charge of each registered
        # car that has one, the cars whose last recorded charge is below it, and the cars
        # the log says lost.
        self.floors: dict[str, float] = {}
        self.below: set[str] = set()
        self.lost_nodes: set[str] = set()
        self.max_ttl_s = max(MAX_TTL_S, MISSED_HEARTBEATS_TO_LOSE * heartbeat_interval_s)
        self._mono = monotonic
        self._wall = wall
        self._reconciled = -math.inf

    # --- partitions ----------------------------------------------------------------------

    def owns(self, node_id: str) -> bool:
        return partition_of(node_id) in self.owned

    def take(self, partitions: Iterable[int]) -> None:
        """Start watching these partitions' cars: each gets a full grace from now (their
        earlier heartbeats went to another replica)."""
        now = self._mono()
        for p in partitions:
            self.owned.add(p)
            for node_id in self.by_partition.get(p, ()):
                node = self.fleet.nodes.get(node_id)
                if node is not None and not node.lost:
                    self.liveness.beat(node_id, now)

    def give(self, partitions: Iterable[int]) -> None:
        for p in partitions:
            self.owned.discard(p)
            self.liveness.forget(self.by_partition.get(p, ()))

    def mark_ended(self, lease_id: str) -> None:
        self.ended[lease_id] = None
        if len(self.ended) > ENDED_KEPT:
            del self.ended[next(iter(self.ended))]

    # --- the log -----------------------------------------------------------------------

    async def on_event(self, rec: RecordedEvent) -> None:
        """Fold one node or lease event; once live, react to what it changed."""
        event = rec.payload
        if isinstance(event, InferenceCompleted | InferenceVerified | InferenceDisputed):
            await self._judge(event, rec.envelope)
            return
        self.fold(event)
        if isinstance(event, LeaseGranted):
            self.rep(event.node_id).leases += 1
        elif isinstance(event, LeaseRevoked) and event.reason in ("lost", "unparked"):
            self.rep(event.node_id).leases_lost += 1
            self.reindex(event.node_id)  # its record, hence its placement tier, changed
        if isinstance(event, NodeRegistered) and event.node_id in self.fleet.refused:
            log.warning(
                "registration refused",
                extra={"node_id": event.node_id, "why": self.fleet.refused[event.node_id]},
            )
        elif isinstance(event, NodeRegistered):
            self.by_partition.setdefault(partition_of(event.node_id), set()).add(event.node_id)
            self.liveness.intervals[event.node_id] = event.heartbeat_interval_s
            if (
                self.live
                and self.owns(event.node_id)
                and event.node_id not in self.liveness.last_seen
            ):
                # Registered but not heard yet: give it the full grace of 3 intervals.
                self.liveness.beat(event.node_id, self._mono())
        elif isinstance(event, LeaseReleased | LeaseRevoked):
            self.mark_ended(event.lease_id)
        if self.live:
            await self.revoke_due(cause=rec.envelope)

    async def caught_up(self) -> None:
        """The log is replayed: start the clocks of every known node and reconcile once."""
        now = self._mono()
        for node_id, node in self.fleet.nodes.items():
            self.liveness.intervals[node_id] = node.heartbeat_interval_s
            if self.owns(node_id) and not node.lost and node_id not in self.liveness.last_seen:
                self.liveness.beat(node_id, now)
        self.live = True
        await self.revoke_due()

    def fold(self, event: Event) -> None:
        """Apply one event to the fleet and keep the placement index in step with it."""
        ended = None
        if isinstance(event, LeaseReleased | LeaseRevoked):
            ended = self.fleet.leases.get(event.lease_id)
        granted = isinstance(event, LeaseGranted) and event.lease_id not in self.fleet.leases
        self.fleet.apply(event)
        if (node_id := getattr(event, "node_id", None)) is not None:
            self._track(node_id)
        if granted and isinstance(event, LeaseGranted):
            self.index.leased(event.node_id, event.tenant_id, event.model)
        elif ended is not None:
            self.index.ended(ended.node_id, ended.tenant_id, ended.model)
        elif node_id is not None:
            self.reindex(node_id)

    def _track(self, node_id: str) -> None:
        """Keep the heartbeat path's view of one car (`floors`, `below`, `lost_nodes`)."""
        node = self.fleet.nodes.get(node_id)
        if node is None:
            self.floors.pop(node_id, None)
            self.below.discard(node_id)
            self.lost_nodes.discard(node_id)
            return
        floor = node.prefs.min_state_of_charge
        if floor > 0.0:
            self.floors[node_id] = floor
        else:
            self.floors.pop(node_id, None)
        (self.below.add if node.state_of_charge < floor else self.below.discard)(node_id)
        (self.lost_nodes.add if node.lost else self.lost_nodes.discard)(node_id)

    def reindex(self, node_id: str) -> None:
        """Put the car in the placement index as it now stands, or take it out."""
        node = self.fleet.nodes.get(node_id)
        if node is None or not node.schedulable():
            self.index.drop(node_id)
            return
        rep = self.reputation.get(node_id)
        self.index.put(
            candidate_of(
                node,
                latency_ms=self.latency_ms.get(node_id),
                trust=placement_factor(rep) if rep is not None else 1.0,
            )
        )

    # --- heartbeats --------------------------------------------------------------------

    def rep(self, node_id: str) -> Reputation:
        """The car's record, to read or to change: a car whose record was handed out is
        re-placed in the index before the next placement (`refresh`)."""
        rep = self.reputation.get(node_id)
        if rep is None:
            rep = self.reputation[node_id] = Reputation()
        self.stale.add(node_id)
        return rep

    def refresh(self) -> None:
        """Re-place the cars whose record may have changed since the last placement."""
        for node_id in self.stale:
            self.reindex(node_id)
        self.stale.clear()

    async def _judge(
        self, event: InferenceCompleted | InferenceVerified | InferenceDisputed, env: Envelope
    ) -> None:
        """What verification says about cars: counts, and quarantine for a lost dispute.
        Every replica folds the same disputes in the same order and would decide the same
        quarantine; its id derives from the dispute, so it is stored once."""
        if isinstance(event, InferenceCompleted):
            self.measured(event.node_id, event.compute_ms)
            if not event.verification:
                answered(self.rep(event.node_id))
            return
        if isinstance(event, InferenceVerified):
            checked(self.rep(event.node_id))
            return
        for node_id in event.majority:
            checked(self.rep(node_id))
        for node_id in event.wrong:
            rep = self.rep(node_id)
            rep.disputes_lost += 1
            self.reindex(node_id)  # a lower record: a lower placement tier
            node = self.fleet.nodes.get(node_id)
            if self.live and quarantine_due(rep) and node is not None and not node.quarantined:
                quarantined = NodeQuarantined(
                    node_id=node_id,
                    reason=f"lost a verification dispute on {event.model} "
                    f"(task {event.task_id}, step {event.step})",
                    disputes_lost=rep.disputes_lost,
                )
                await self._append_node(
                    quarantined,
                    node_id,
                    event_id=derived_event_id(env.id, f"quarantine:{node_id}"),
                    cause=env,
                )
                log.warning("node quarantined", extra={"node_id": node_id, "why": "dispute"})
        if self.live:
            await self.revoke_due(cause=env)

    def measured(self, node_id: str, compute_ms: float) -> None:
        """A call's duration as the platform's clock measured it (InferenceCompleted): the
        latency placement prefers. A car's own heartbeat figure is never used: it could
        claim to be fast to win work."""
        old = self.latency_ms.get(node_id)
        self.latency_ms[node_id] = compute_ms if old is None else old + 0.2 * (compute_ms - old)
        self.reindex(node_id)

    def beat(self, node_id: str, state_of_charge: float, now: float) -> None:
        """One heartbeat (`beats` of one)."""
        self.beats([node_id], [state_of_charge], now)

    def beats(
        self,
        node_ids: list[str],
        socs: list[float],
        now: float,
        partitions: list[bytes] | None = None,
    ) -> None:
        """A read's worth of heartbeats (the hot path: no I/O, C-level passes over the lists;
        Python code per beat only for a beat that reveals something). `socs` are the cars'
        word, bounded by the caller to [0, 1]: a charge only ever takes work away from its
        own car. `partitions`: the partition token each beat's subject named, as sent; a car
        new here whose id hashes to another partition is not watched (it beat on another
        partition's subject). What is worth an event (back from lost, a charge across the
        owner's minimum) is noted for `attend`."""
        new, back = self.liveness.beats(node_ids, now)
        if new and partitions is not None:
            claimed = dict(zip(node_ids, partitions, strict=True))
            wrong = {n for n in new if b"%d" % partition_of(n) != claimed[n]}
            if wrong:
                self.liveness.forget(wrong)
                back -= wrong
                kept = [(n, c) for n, c in zip(node_ids, socs, strict=True) if n not in wrong]
                node_ids, socs = [k[0] for k in kept], [k[1] for k in kept]
        self.heartbeats += len(node_ids)
        floors, below = self.floors, self.below
        # Only cars whose owner set a minimum have a floor (a charge is never below 0).
        below_now = list(map(lt, socs, map(floors.get, node_ids, repeat(0.0)))) if floors else []
        crossed = bool(floors) and (
            below_now != list(map(below.__contains__, node_ids)) if below else any(below_now)
        )
        if not (back or crossed or (self.lost_nodes and not self.lost_nodes.isdisjoint(node_ids))):
            return
        nodes = self.fleet.nodes
        for i, (node_id, soc) in enumerate(zip(node_ids, socs, strict=True)):
            is_below = below_now[i] if below_now else False
            if node_id in nodes and (
                node_id in back or node_id in self.lost_nodes or is_below != (node_id in below)
            ):
                self.attention[node_id] = soc
                self.attention_due.set()

    async def attend(self) -> None:
        """Write what heartbeats revealed: NodeRecovered, NodeBatteryChanged across the
        owner's minimum (then leases on a car now below it are revoked)."""
        self.attention_due.clear()
        noted, self.attention = self.attention, {}
        for node_id, soc in noted.items():
            node = self.fleet.nodes.get(node_id)
            if node is None or not self.owns(node_id):
                continue
            if node.lost:
                await self._append_node(NodeRecovered(node_id=node_id), node_id)
            if crosses_minimum(node.prefs, node.state_of_charge, soc):
                await self._append_node(
                    NodeBatteryChanged(node_id=node_id, state_of_charge=soc), node_id
                )
        if noted:
            await self.revoke_due()

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
        now = self._mono()
        if lost or now - self._reconciled >= RECONCILE_S:
            self._reconciled = now
            await self.revoke_due()
        return lost

    async def _append_node(
        self,
        event: Event,
        node_id: str,
        *,
        event_id: str | None = None,
        cause: Envelope | None = None,
    ) -> None:
        env = envelope(
            event,
            tenant=PLATFORM_TENANT,
            aggregate_id=node_id,
            event_id=event_id,
            correlation_id=cause.correlation_id if cause else None,
            causation_id=cause.id if cause else None,
        )
        await self.store.append([env], expected_version=None)
        self.fold(event)

    # --- leases (requests are served by leasing.LeaseDesk) ------------------------------

    def wall(self) -> datetime:
        return self._wall()

    def alive_map(self) -> Mapping[str, bool]:
        return _Alive(self, self._mono())

    async def revoke_due(self, cause: Envelope | None = None) -> int:
        """End the leases that must end on the cars this replica watches (each replica
        its own partitions: one decision per lease, not one per replica)."""
        due = [d for d in revocations(self.fleet, self._wall()) if self.owns(d[0].node_id)]
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
        self.fold(event)
        self.mark_ended(lease.lease_id)
        log.info("lease revoked", extra={"lease_id": lease.lease_id, "reason": reason})

    def stats(self) -> FleetStats:
        alive = self.alive_map()
        nodes = self.fleet.nodes.values()
        sched = [n for n in nodes if n.schedulable() and alive.get(n.node_id, False)]
        return FleetStats(
            nodes=len(self.fleet.nodes),
            # Watched minus declared lost (O(1): the sweep keeps it true within a bucket).
            alive=len(self.liveness.last_seen) - len(self.liveness.declared_lost),
            parked=sum(1 for n in nodes if n.parked),
            schedulable=len(sched),
            schedulable_tops=sum(n.tops for n in sched),
            schedulable_watts=sum(n.power_w for n in sched),
            leases=len(self.fleet.leases),
            revoked=self.fleet.revoked,
            lost=sum(1 for n in nodes if n.lost),
            heartbeats=self.heartbeats,
            replica=self.replica,
            partitions=sorted(self.owned),
        )

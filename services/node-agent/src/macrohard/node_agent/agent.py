"""A car on the fleet: registers, reports its state as events, heartbeats on core NATS.

The agent speaks only for itself: events go to `ev._platform.node.<its id>.<Type>` and
heartbeats to `fleet.hb.<its partition>.<its id>`, which is all its NATS credentials allow
(deploy/nats).
Triton and the worker that takes inference work from the bus (`work.py`) are started by the
caller (`main.py`), so the fleet simulator can run thousands of agents without a Triton each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import msgspec
from nats.aio.client import Client as NATS

from macrohard.contracts import PLATFORM_TENANT, envelope
from macrohard.contracts.envelope import Event, utcnow
from macrohard.contracts.fleet import (
    ALL_HOURS,
    DEFAULT_HEARTBEAT_INTERVAL_S,
    DEFAULT_MAX_LEASES,
    DEFAULT_SOC_FLOOR,
    Heartbeat,
    NodeBatteryChanged,
    NodeChargingChanged,
    NodeParked,
    NodeRegistered,
    NodeThrottled,
    OwnerPreferencesSet,
    heartbeat_subject,
)
from macrohard.eventlog.store import EventStore
from macrohard.node_agent import domain
from macrohard.node_agent.domain import CarState, ScheduledChange
from macrohard.node_agent.triton import ComputeMeter

log = logging.getLogger("macrohard.node_agent")


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """What a car registers. Defaults: an NVIDIA DRIVE Orin class chip."""

    node_id: str
    owner_account: str
    chip: str = "nvidia-drive-orin"
    tops: float = 254.0
    memory_gb: float = 32.0
    power_w: float = 60.0
    soc_floor: float = DEFAULT_SOC_FLOOR
    max_leases: int = DEFAULT_MAX_LEASES


class NodeAgent:
    def __init__(
        self,
        nc: NATS,
        identity: NodeIdentity,
        *,
        models: Sequence[str],
        heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S,
        state: CarState | None = None,
        meter: ComputeMeter | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.nc = nc
        self.store = EventStore(nc)
        self.identity = identity
        self.models = list(models)
        self.heartbeat_interval_s = heartbeat_interval_s
        self.state = state or CarState()
        self.meter = meter or ComputeMeter()
        self.seq = 0
        self.heartbeating = True  # False: the car went silent (modem off, crash)
        self._clock = clock
        self._encode = msgspec.json.Encoder().encode

    @property
    def node_id(self) -> str:
        return self.identity.node_id

    async def emit(self, events: Sequence[Event]) -> None:
        if not events:
            return
        envs = [envelope(e, tenant=PLATFORM_TENANT, aggregate_id=self.node_id) for e in events]
        # No expected version: the car is the only writer of its own state events, in order.
        await self.store.append(envs, expected_version=None)
        for e in events:
            log.info("node event", extra={"node_id": self.node_id, "type": type(e).__name__})

    async def register(self) -> None:
        i = self.identity
        await self.emit(
            [
                NodeRegistered(
                    node_id=i.node_id,
                    owner_account=i.owner_account,
                    chip=i.chip,
                    tops=i.tops,
                    memory_gb=i.memory_gb,
                    power_w=i.power_w,
                    models=self.models,
                    soc_floor=i.soc_floor,
                    max_leases=i.max_leases,
                    heartbeat_interval_s=self.heartbeat_interval_s,
                )
            ]
        )
        # A registration resets the registry's view of the car: state it again in full.
        s = self.state
        extra: list[Event] = [
            NodeBatteryChanged(node_id=i.node_id, state_of_charge=s.state_of_charge)
        ]
        if s.charging:
            extra.append(NodeChargingChanged(node_id=i.node_id, charging=True))
        if s.throttled:
            extra.append(NodeThrottled(node_id=i.node_id, throttled=True))
        if s.parked:
            extra.append(NodeParked(node_id=i.node_id, expected_departure=s.expected_departure))
        self.state = replace(s, reported_soc=s.state_of_charge)
        await self.emit(extra)

    async def set_preferences(
        self,
        *,
        min_state_of_charge: float = 0.0,
        work_hours: Sequence[int] = ALL_HOURS,
        time_zone: str = "UTC",
    ) -> None:
        """The owner's terms for lending this car (the registry bounds and applies them:
        no lease below the minimum charge or outside the hours, on the car's own clock)."""
        await self.emit(
            [
                OwnerPreferencesSet(
                    node_id=self.node_id,
                    min_state_of_charge=min_state_of_charge,
                    work_hours=list(work_hours),
                    time_zone=time_zone,
                )
            ]
        )

    async def park(self, until: datetime | None) -> None:
        self.state, events = domain.park(self.state, self.node_id, until)
        await self.emit(events)

    async def unpark(self) -> None:
        self.state, events = domain.unpark(self.state, self.node_id)
        await self.emit(events)

    async def apply(self, c: ScheduledChange) -> None:
        self.state, events = domain.change(self.state, self.node_id, c, self._clock())
        await self.emit(events)

    async def heartbeat(self) -> None:
        if not self.heartbeating:
            return
        self.seq += 1
        beat = Heartbeat(
            node_id=self.node_id,
            seq=self.seq,
            state_of_charge=round(self.state.state_of_charge, 4),
            inflight=self.meter.inflight,
            latency_ms=round(self.meter.latency_ms, 3),
        )
        await self.nc.publish(heartbeat_subject(self.node_id), self._encode(beat))

    async def run(self, schedule: Sequence[ScheduledChange] = ()) -> None:
        """Heartbeat every interval, play the schedule, leave at the expected departure."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        pending = sorted(schedule, key=lambda c: c.after_s)
        next_beat = started
        while True:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # a library swallowed our cancel
                raise asyncio.CancelledError
            now = loop.time()
            while pending and now - started >= pending[0].after_s:
                await self.apply(pending.pop(0))
            if domain.departure_due(self.state, self._clock()):
                log.info("driver is back: leaving", extra={"node_id": self.node_id})
                await self.unpark()
            if now >= next_beat:
                await self.heartbeat()
                next_beat = now + self.heartbeat_interval_s
            wake = next_beat
            if pending:
                wake = min(wake, started + pending[0].after_s)
            await asyncio.sleep(max(min(wake - loop.time(), 1.0), 0.01))

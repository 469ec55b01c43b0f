"""Fleet fixtures: a registry running in-process on the test's NATS, and car agents.

Heartbeat intervals are fractions of a second here so that "3 missed intervals" takes
about a second; the code paths are the ones `mh run node-registry` runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from nats.aio.client import Client as NATS

from macrohard.node_agent.agent import NodeAgent, NodeIdentity
from macrohard.node_agent.domain import CarState
from macrohard.node_agent.work import InferenceWorker
from macrohard.node_registry.registry import Registry
from macrohard.node_registry.replica import running_replica

INTERVAL_S = 0.25


@dataclass
class RunningRegistry:
    registry: Registry
    interval_s: float


@asynccontextmanager
async def run_registry(
    nc: NATS, interval_s: float = INTERVAL_S, replica: str = ""
) -> AsyncIterator[Registry]:
    """A registry replica exactly as `mh run node-registry` wires it, owning its partitions
    before it is handed over (with one replica: all of them)."""
    from macrohard.eventlog.store import EventStore

    async with running_replica(
        nc, EventStore(nc), heartbeat_interval_s=interval_s, replica=replica
    ) as registry:
        await eventually(lambda: bool(registry.owned), timeout=10)
        yield registry


@pytest.fixture
async def registry(nc: NATS) -> AsyncIterator[Registry]:
    async with run_registry(nc) as r:
        yield r


@asynccontextmanager
async def running_car(
    nc: NATS,
    node_id: str,
    *,
    models: list[str] | None = None,
    url: str | None = None,
    state: CarState | None = None,
    soc_floor: float = 0.2,
    max_leases: int = 4,
    interval_s: float = INTERVAL_S,
    meter: object | None = None,
) -> AsyncIterator[NodeAgent]:
    """A registered, parked car heartbeating in the background; with `url` (its local
    Triton) it also takes inference work from the bus, as `mh node` does."""
    agent = NodeAgent(
        nc,
        NodeIdentity(
            node_id=node_id,
            owner_account=f"owner-{node_id}",
            soc_floor=soc_floor,
            max_leases=max_leases,
        ),
        models=models or ["minilm"],
        heartbeat_interval_s=interval_s,
        state=state or CarState(parked=True),
        meter=meter,  # type: ignore[arg-type]
    )
    worker = await InferenceWorker(nc, node_id, url).start() if url else None
    await agent.register()
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if worker is not None:
            await worker.stop()


async def eventually(predicate, timeout: float = 5.0, period: float = 0.02) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(period)

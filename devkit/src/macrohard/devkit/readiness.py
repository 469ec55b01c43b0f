"""Waiting for a started platform to be usable: the gateway answers, the cars are parked."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import nats


async def wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return True
            await asyncio.sleep(0.25)
    return False


async def wait_cars_parked(nats_url: str, nodes: int, timeout: float) -> bool:
    """True once every local car has registered and parked (its Triton serves its models).

    `ready:` must mean a task can run: without a parked car the planner has nowhere to
    lease the model from.
    """
    from macrohard.contracts.fleet import NodeParked
    from macrohard.contracts.subjects import PLATFORM_TENANT
    from macrohard.eventlog.store import EventStore

    nc = await nats.connect(nats_url)
    store = EventStore(nc)
    try:
        deadline = time.monotonic() + timeout
        waiting = {f"car-{n}" for n in range(1, nodes + 1)}
        while waiting and time.monotonic() < deadline:
            for car in sorted(waiting):
                events = await store.read_aggregate(PLATFORM_TENANT, "node", car)
                if any(isinstance(r.payload, NodeParked) for r in events):
                    waiting.discard(car)
            await asyncio.sleep(0.25)
        return not waiting
    finally:
        await store.close()
        await nc.close()

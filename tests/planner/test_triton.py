"""The planner's default backend for real: the planner model bound on a car's Triton
(PyTriton), leased through the node registry and called with the fleet's inference client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from nats.aio.client import Client as NATS

from macrohard.contracts.agent import InferenceCompleted, IntentEmitted
from macrohard.contracts.tasks import TaskFailed
from macrohard.eventlog import EventStore
from macrohard.node_agent.triton import TritonHost
from macrohard.node_registry.registry import Registry
from macrohard.planner.backends import TritonBackend
from macrohard.planner.handlers import Planner
from macrohard.planner.inference import InferenceClient
from macrohard.planner_model import load_bindings
from tests.fleet.conftest import run_registry, running_car
from tests.planner.test_service import observe, submit, task_events


@pytest.fixture(scope="module")
def triton() -> Iterator[TritonHost]:
    host = TritonHost(load_bindings(["macrohard.planner_model.planner"]))
    host.start()
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture
async def fleet_registry(nc: NATS) -> AsyncIterator[Registry]:
    async with run_registry(nc) as r:
        yield r


async def test_steps_are_decided_on_a_leased_car_and_metered(
    nc: NATS, store: EventStore, fleet_registry: Registry, triton: TritonHost
) -> None:
    async with running_car(
        nc, "car-p", models=["planner"], url=triton.http_url, meter=triton.meter
    ):
        client = InferenceClient(nc, store)
        backend = TritonBackend(client)
        planner = Planner(store=lambda: store, backend=lambda: backend)
        await submit(store, planner)
        await observe(store, planner, 0)
        await client.close()
    events = await task_events(store)
    decided = [e for e in events if isinstance(e, IntentEmitted)][-1]
    assert decided.backend == "triton" and decided.step == 1
    assert (decided.intent.action, decided.intent.element, decided.intent.text) == (
        "type",
        0,
        "Ada",
    )
    metered = [e for e in events if isinstance(e, InferenceCompleted)]
    assert len(metered) == 1
    assert (metered[0].node_id, metered[0].model, metered[0].step) == ("car-p", "planner", 1)
    assert metered[0].owner_account == "owner-car-p" and metered[0].compute_ms > 0


async def test_a_registry_restart_fails_no_task(
    nc: NATS, store: EventStore, triton: TritonHost
) -> None:
    """The registry is down (restarting) when the task asks for a car: the task waits for it
    instead of failing on 'no responders', and runs once the registry is back."""
    async with running_car(
        nc, "car-r", models=["planner"], url=triton.http_url, meter=triton.meter
    ):
        client = InferenceClient(nc, store)
        planner = Planner(store=lambda: store, backend=lambda: TritonBackend(client))
        await submit(store, planner)
        deciding = asyncio.create_task(observe(store, planner, 0))
        await asyncio.sleep(1.5)  # several lease requests meet no registry at all
        assert not deciding.done()
        async with run_registry(nc):
            await asyncio.wait_for(deciding, 30)
        await client.close()
    events = await task_events(store)
    assert not any(isinstance(e, TaskFailed) for e in events)
    decided = [e for e in events if isinstance(e, IntentEmitted)][-1]
    assert decided.step == 1 and decided.intent.action == "type"
    assert [e.node_id for e in events if isinstance(e, InferenceCompleted)] == ["car-r"]

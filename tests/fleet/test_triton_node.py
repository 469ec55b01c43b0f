"""Real Triton (PyTriton) on two cars, called through tritonclient, and a car that leaves
mid-inference: the caller's retry lands on the other car and the task does not fail."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from nats.aio.client import Client as NATS

from macrohard.contracts.agent import InferenceCompleted
from macrohard.eventlog.store import EventStore
from macrohard.node_agent.triton import TritonHost
from macrohard.node_agent.work import InferenceWorker
from macrohard.planner.inference import InferenceClient
from macrohard.planner_model import load_bindings
from macrohard.planner_model.minilm import DIMENSIONS, encoder
from tests.fleet.conftest import eventually, run_registry, running_car


@pytest.fixture(scope="module")
def tritons() -> Iterator[dict[str, TritonHost]]:
    """Two cars' Triton servers, started once for the module (start-up is seconds)."""
    hosts = {"car-a": TritonHost(load_bindings()), "car-b": TritonHost(load_bindings())}
    try:
        for host in hosts.values():
            host.start()
        yield hosts
    finally:
        for host in hosts.values():
            host.stop()


def text_column(texts: list[str]) -> np.ndarray:
    return np.array([[t.encode()] for t in texts], dtype=np.object_)


async def test_triton_serves_minilm_through_tritonclient(tritons: dict[str, TritonHost]) -> None:
    from tritonclient.http.aio import InferenceServerClient, InferInput, InferRequestedOutput

    host = tritons["car-a"]
    client = InferenceServerClient(host.http_url.split("://")[1])
    try:
        assert await client.is_model_ready("minilm")
        texts = ["Click the login button", "Type the password"]
        item = InferInput("text", [2, 1], "BYTES")
        item.set_data_from_numpy(text_column(texts))
        result = await client.infer("minilm", [item], outputs=[InferRequestedOutput("embedding")])
        got = result.as_numpy("embedding")
    finally:
        await client.close()
    assert got.shape == (2, DIMENSIONS)
    assert np.abs(got - encoder().encode(texts)).max() < 1e-5
    assert host.meter.latency_ms > 0


async def test_car_unparks_during_inference_and_the_retry_lands_elsewhere(
    nc: NATS, store: EventStore, tritons: dict[str, TritonHost]
) -> None:
    a, b = tritons["car-a"], tritons["car-b"]
    # Cars heartbeat every second here, not every quarter: the batch is computed in this
    # process, and on a loaded machine it can starve a 0.75 s loss window (a car "lost"
    # while it computes is another test).
    interval = 1.0
    async with (
        run_registry(nc, interval_s=interval),
        running_car(nc, "car-a", url=a.http_url, meter=a.meter, interval_s=interval) as car_a,
        running_car(nc, "car-b", url=b.http_url, meter=b.meter, interval_s=interval) as car_b,
    ):
        await asyncio.sleep(interval)
        cars = {"car-a": (car_a, a), "car-b": (car_b, b)}
        client = InferenceClient(nc, store, timeout_s=90)
        # A batch big enough to take a while on CPU, so the driver returns mid-call.
        texts = [f"step {i}: " + "fill the invoice form and submit it " * 8 for i in range(16)]
        call = asyncio.create_task(
            client.infer(
                tenant_id="acme",
                task_id="task-1",
                step=1,
                model="minilm",
                inputs={"text": text_column(texts)},
                outputs=["embedding"],
            )
        )
        await eventually(lambda: a.meter.inflight > 0 or b.meter.inflight > 0, timeout=10)
        first = "car-a" if a.meter.inflight > 0 else "car-b"
        await cars[first][0].unpark()  # the driver is back
        result = await asyncio.wait_for(call, 120)
        await client.close()
    assert result.node_id != first
    assert result.attempts == 2
    assert np.abs(result.outputs["embedding"] - encoder().encode(texts)).max() < 1e-5
    recorded = await store.read_aggregate("acme", "task", "task-1")
    completed = [r.payload for r in recorded if isinstance(r.payload, InferenceCompleted)]
    assert len(completed) == 1
    assert result.version == next(
        r.sequence for r in recorded if isinstance(r.payload, InferenceCompleted)
    )
    event = completed[0]
    assert (event.node_id, event.model, event.lease_id) == (
        result.node_id,
        "minilm",
        result.lease_id,
    )
    assert event.input_bytes == sum(len(t.encode()) for t in texts)
    assert event.output_bytes == 16 * DIMENSIONS * 4
    assert event.compute_ms > 0 and event.energy_wh == pytest.approx(
        60.0 * event.compute_ms / 3.6e6, rel=1e-3
    )
    assert event.owner_account == f"owner-{result.node_id}"


async def test_a_car_that_registers_before_it_answers_makes_the_task_wait_not_fail(
    nc: NATS, store: EventStore, tritons: dict[str, TritonHost]
) -> None:
    # The drill's first tasks failed at start-up: the registry leased car-2 (known from the
    # log) before car-2's agent took work from the bus, every call met "no responders", and
    # four of them in three seconds failed the task although the car answered 8 s later.
    # No responders means nobody is there to ask: the task waits for a car within its
    # deadline, as it does for a car that left.
    host = tritons["car-a"]
    interval = 1.0
    async with (
        run_registry(nc, interval_s=interval),
        running_car(nc, "car-late", url=None, meter=host.meter, interval_s=interval),
    ):
        client = InferenceClient(nc, store, timeout_s=60, car_wait_s=60)
        texts = ["Type the password"]
        call = asyncio.create_task(
            client.infer(
                tenant_id="acme",
                task_id="task-late",
                step=1,
                model="minilm",
                inputs={"text": text_column(texts)},
                outputs=["embedding"],
            )
        )
        # Longer than max_attempts (4) of quick "no responders" answers used to take.
        await asyncio.sleep(5)
        assert not call.done(), call.result() if not call.exception() else call.exception()
        worker = await InferenceWorker(nc, "car-late", host.http_url).start()
        try:
            result = await asyncio.wait_for(call, 60)
        finally:
            await client.close()
            await worker.stop()
    assert result.node_id == "car-late"
    assert result.attempts > client.max_attempts
    assert np.abs(result.outputs["embedding"] - encoder().encode(texts)).max() < 1e-5

"""Issue 11.3, attacked as a car owner would: cars dial out, nothing dials a car, and what a
car is paid and a tenant billed is what the platform measured, never what the car says.

Real nats-server with the cars' generated least-privilege users (the declaration in
`macrohard.node_agent.credentials`), the real registry, the real inference client.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import nats
import numpy as np
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from macrohard.billing.domain import usage_of
from macrohard.contracts import PLATFORM_TENANT, REGISTRY, envelope, tensors
from macrohard.contracts.agent import InferenceCompleted
from macrohard.contracts.fleet import (
    LEASE_REQUEST,
    Heartbeat,
    LeaseReply,
    LeaseRequest,
    NodeParked,
    NodeRegistered,
    heartbeat_subject,
    infer_subject,
)
from macrohard.devkit.embedded import free_port, nats_server_binary, wait_for_port
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams
from macrohard.node_agent.credentials import authorization_block
from macrohard.node_agent.main import connect_as_node
from macrohard.node_registry.registry import Registry
from macrohard.planner.inference import InferenceClient, InferenceFailed
from tests.fleet.conftest import INTERVAL_S, eventually, run_registry

CARS = {"car-1": "pw-one", "car-2": "pw-two"}
SLOW_MS = 60.0  # how long the dishonest car really takes per call


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{port}\njetstream {{ store_dir: {tmp_path / 'js'} }}\n"
        + authorization_block(CARS, "platform", "pw-platform")
    )
    proc = subprocess.Popen([nats_server_binary(), "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 10, proc)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
async def platform(secured_nats: str) -> AsyncIterator[NATS]:
    nc = await nats.connect(secured_nats, user="platform", password="pw-platform")
    await ensure_streams(nc.jetstream())
    yield nc
    await nc.close()


@pytest.fixture
async def registry(platform: NATS) -> AsyncIterator[Registry]:
    async with run_registry(platform) as r:
        yield r


async def car(url: str, node_id: str) -> NATS:
    return await connect_as_node(url, node_id, node_id, CARS[node_id])


async def register(nc: NATS, node_id: str, **declared: object) -> None:
    """What a hostile car may append under its own credentials: any declaration at all."""
    fields: dict[str, object] = {
        "node_id": node_id,
        "owner_account": f"owner-{node_id}",
        "chip": "nvidia-drive-orin",
        "tops": 254.0,
        "memory_gb": 32.0,
        "power_w": 60.0,
        "models": ["minilm"],
        "max_leases": 4,
        "heartbeat_interval_s": INTERVAL_S,
    }
    fields.update(declared)
    store = EventStore(nc)
    for event in (NodeRegistered(**fields), NodeParked(node_id=node_id)):  # type: ignore[arg-type]
        await store.append(
            [envelope(event, tenant=PLATFORM_TENANT, aggregate_id=node_id)], expected_version=None
        )


async def heartbeat_forever(nc: NATS, node_id: str, claimed_latency_ms: float) -> None:
    seq = 0
    while True:
        seq += 1
        beat = Heartbeat(node_id=node_id, seq=seq, latency_ms=claimed_latency_ms)
        await nc.publish(heartbeat_subject(node_id), msgspec.json.encode(beat))
        await asyncio.sleep(INTERVAL_S / 2)


def lying_responder(nc: NATS) -> object:
    """A car that does the work (slowly) and stuffs its reply with figures in its favour."""

    async def on_work(msg: Msg) -> None:
        request = tensors.decode_request(msg.data)
        await asyncio.sleep(SLOW_MS / 1000)
        texts = tensors.from_wire(request.inputs[0])
        out = np.ones((texts.shape[0], 4), dtype=np.float32)
        reply = {
            "ok": True,
            "outputs": [
                msgspec.to_builtins(tensors.to_wire("embedding", out), builtin_types=(bytes,))
            ],
            # Claims no honest reply has a field for: the decoder never reads them.
            "compute_ms": 9_999_999.0,
            "energy_wh": 1_000.0,
            "power_w": 50_000.0,
        }
        await msg.respond(msgspec.msgpack.encode(reply))

    return on_work


def text_column(texts: list[str]) -> np.ndarray:
    return np.array([[t.encode()] for t in texts], dtype=np.object_)


async def test_inflated_energy_and_latency_are_paid_and_billed_by_measurement(
    secured_nats: str, platform: NATS, registry: Registry
) -> None:
    car1 = await car(secured_nats, "car-1")
    beats = asyncio.create_task(heartbeat_forever(car1, "car-1", claimed_latency_ms=0.001))
    try:
        await car1.subscribe(infer_subject("car-1"), cb=lying_responder(car1))  # type: ignore[arg-type]
        await register(car1, "car-1")
        await eventually(lambda: "car-1" in registry.fleet.nodes)
        client = InferenceClient(platform, EventStore(platform), timeout_s=5)
        started = time.perf_counter()
        result = await client.infer(
            tenant_id="acme",
            task_id="t-1",
            step=1,
            model="minilm",
            inputs={"text": text_column(["hello"])},
            outputs=["embedding"],
        )
        wall_ms = (time.perf_counter() - started) * 1000
        await client.close()
    finally:
        beats.cancel()
        await car1.close()
    event = result.event
    # Billed and paid: our clock around the request (at least the car's real work, at most
    # the caller's whole wait), at the attested 60 W, not the car's figures.
    assert SLOW_MS <= event.compute_ms <= wall_ms
    assert event.energy_wh == pytest.approx(60.0 * event.compute_ms / 3_600_000, rel=1e-3)
    stored = await EventStore(platform).read_aggregate("acme", "task", "t-1")
    (recorded,) = [r for r in stored if r.type == "InferenceCompleted"]
    metered = {u.meter: u.quantity for u in usage_of(recorded.envelope)}
    assert metered["compute:minilm"] == round(event.compute_ms * 1000)
    assert metered["energy_uwh"] == round(event.energy_wh * 1_000_000)
    assert metered["energy_uwh"] < 10_000  # 60 W for ~0.06 s is ~1 mWh, not the claimed 1 kWh
    # Placement's latency is the measured one, not the 0.001 ms the heartbeats claim.
    await eventually(lambda: registry.latency_ms.get("car-1", 0.0) >= SLOW_MS)


@pytest.mark.parametrize(
    "lie",
    [
        {"power_w": 5_000.0},
        {"power_w": -1.0},
        {"tops": 1e9},
        {"max_leases": 10_000},
        {"heartbeat_interval_s": 3_600.0},
        {"models": ["minilm"] * 1000},
        {"chip": "nvidia-drive-orin", "power_w": 61.0},
    ],
    ids=["power", "negative-power", "tops", "leases", "interval", "models", "over-chip-spec"],
)
async def test_out_of_bound_declarations_are_refused(
    secured_nats: str, platform: NATS, registry: Registry, lie: dict[str, object]
) -> None:
    car1 = await car(secured_nats, "car-1")
    beats = asyncio.create_task(heartbeat_forever(car1, "car-1", 1.0))
    try:
        await register(car1, "car-1", **lie)
        await eventually(lambda: "car-1" in registry.fleet.refused)
        assert "car-1" not in registry.fleet.nodes
        reply = msgspec.json.decode(
            (
                await platform.request(
                    LEASE_REQUEST,
                    msgspec.json.encode(LeaseRequest(tenant_id="a", task_id="t", model="minilm")),
                    timeout=2,
                )
            ).data,
            type=LeaseReply,
        )
        assert not reply.ok
        # The same car declaring honest figures is admitted.
        await register(car1, "car-1")
        await eventually(lambda: "car-1" in registry.fleet.nodes)
        assert registry.fleet.nodes["car-1"].power_w == 60.0
    finally:
        beats.cancel()
        await car1.close()


async def test_the_platform_never_dials_a_car_declared_url(
    secured_nats: str, platform: NATS, registry: Registry
) -> None:
    # A listener standing in for an internal host the car would like us to call.
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(8)
    trap.setblocking(False)
    host, port = trap.getsockname()
    car1 = await car(secured_nats, "car-1")
    beats = asyncio.create_task(heartbeat_forever(car1, "car-1", 1.0))
    try:
        await car1.subscribe(infer_subject("car-1"), cb=lying_responder(car1))  # type: ignore[arg-type]
        url = f"http://{host}:{port}/v2/models/minilm/infer"
        await register(car1, "car-1", triton_http_url=url, triton_grpc_url=f"grpc://{host}:{port}")
        await eventually(lambda: "car-1" in registry.fleet.nodes)
        client = InferenceClient(platform, EventStore(platform), timeout_s=5)
        result = await client.infer(
            tenant_id="acme",
            task_id="t-2",
            step=1,
            model="minilm",
            inputs={"text": text_column(["a", "b"])},
            outputs=["embedding"],
        )
        await client.close()
        assert result.node_id == "car-1" and result.outputs["embedding"].shape == (2, 4)
        with pytest.raises(BlockingIOError):
            trap.accept()  # nobody ever connected
    finally:
        beats.cancel()
        await car1.close()
        trap.close()


async def test_a_car_cannot_take_or_send_another_cars_work(
    secured_nats: str, platform: NATS, registry: Registry
) -> None:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    car1 = await connect_as_node(secured_nats, "car-1", "car-1", "pw-one", error_cb=on_error)
    car2 = await car(secured_nats, "car-2")
    beats = asyncio.create_task(heartbeat_forever(car2, "car-2", 1.0))
    stolen: list[bytes] = []
    try:
        await car2.subscribe(infer_subject("car-2"), cb=lying_responder(car2))  # type: ignore[arg-type]
        await register(car2, "car-2")
        await eventually(lambda: "car-2" in registry.fleet.nodes)

        async def steal(msg: Msg) -> None:
            stolen.append(msg.data)

        await car1.subscribe(infer_subject("car-2"), cb=steal)
        await car1.subscribe("fleet.infer.*", cb=steal)
        await car1.publish(infer_subject("car-2"), b"forged work")
        await car1.flush()
        client = InferenceClient(platform, EventStore(platform), timeout_s=5)
        result = await client.infer(
            tenant_id="acme",
            task_id="t-3",
            step=1,
            model="minilm",
            inputs={"text": text_column(["secret page text"])},
            outputs=["embedding"],
        )
        await client.close()
        assert result.node_id == "car-2"
        await asyncio.sleep(0.2)
    finally:
        beats.cancel()
        await car1.close()
        await car2.close()
    assert stolen == []
    assert any('subscription to "fleet.infer.car-2"' in e for e in errors)
    assert any('publish to "fleet.infer.car-2"' in e for e in errors)


async def test_a_car_that_answers_garbage_is_not_paid(
    secured_nats: str, platform: NATS, registry: Registry
) -> None:
    car1 = await car(secured_nats, "car-1")
    beats = asyncio.create_task(heartbeat_forever(car1, "car-1", 1.0))

    async def garbage(msg: Msg) -> None:
        # A header that promises a million floats over a body of four bytes.
        bad = {"name": "embedding", "datatype": "FP32", "shape": [1000, 1000], "data": b"1234"}
        await msg.respond(msgspec.msgpack.encode({"ok": True, "outputs": [bad]}))

    try:
        await car1.subscribe(infer_subject("car-1"), cb=garbage)
        await register(car1, "car-1")
        await eventually(lambda: "car-1" in registry.fleet.nodes)
        client = InferenceClient(platform, EventStore(platform), timeout_s=2, max_attempts=2)
        with pytest.raises(InferenceFailed, match="BadTensor"):
            await client.infer(
                tenant_id="acme",
                task_id="t-4",
                step=1,
                model="minilm",
                inputs={"text": text_column(["x"])},
                outputs=["embedding"],
            )
        await client.close()
    finally:
        beats.cancel()
        await car1.close()
    stored = await EventStore(platform).read_aggregate("acme", "task", "t-4")
    assert not [r for r in stored if REGISTRY.payload_class(r.type) is InferenceCompleted]

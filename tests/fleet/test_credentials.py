"""A car's NATS credentials cannot speak for another car (real nats-server with users)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeout

from macrohard.contracts import PLATFORM_TENANT
from macrohard.contracts.fleet import NodeThrottled, heartbeat_subject
from macrohard.devkit.embedded import free_port, nats_server_binary, wait_for_port
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams
from macrohard.node_agent.agent import NodeAgent, NodeIdentity
from macrohard.node_agent.credentials import authorization_block
from macrohard.node_agent.domain import CarState
from macrohard.node_agent.main import connect_as_node

CARS = {"car-1": "pw-one", "car-2": "pw-two"}


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{port}\njetstream {{ store_dir: {tmp_path / 'js'} }}\n"
        + authorization_block(CARS, "platform", "pw-platform")
    )
    proc = subprocess.Popen(
        [nats_server_binary(), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 10, proc)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_a_car_can_publish_only_as_itself(secured_nats: str) -> None:
    platform = await nats.connect(secured_nats, user="platform", password="pw-platform")
    await ensure_streams(platform.jetstream())
    beats: list[str] = []

    async def on_beat(msg: nats.aio.msg.Msg) -> None:
        beats.append(msg.subject)

    await platform.subscribe("fleet.hb.>", cb=on_beat)
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    car1 = await connect_as_node(secured_nats, "car-1", "car-1", "pw-one", error_cb=on_error)
    try:
        # Its own registration, state and heartbeat go through.
        agent = NodeAgent(
            car1,
            NodeIdentity(node_id="car-1", owner_account="o1"),
            models=["minilm"],
            state=CarState(parked=True),
        )
        await agent.register()
        await agent.heartbeat()
        # Speaking as car-2: the event is refused (no ack ever comes), the beat dropped.
        with pytest.raises((NatsTimeout, asyncio.TimeoutError)):
            await EventStore(car1, timeout=1.0).append(
                [_env(NodeThrottled(node_id="car-2", throttled=True), "car-2")],
                expected_version=None,
            )
        await car1.publish(heartbeat_subject("car-2"), b'["car-2",1,1.0,0,0.0]')
        # Nor may it subscribe to someone else's traffic.
        await car1.subscribe("fleet.hb.>")
        await car1.flush()
        await asyncio.sleep(0.3)
    finally:
        await car1.close()
    store = EventStore(platform)
    own = await store.read_aggregate(PLATFORM_TENANT, "node", "car-1")
    assert [r.type for r in own] == ["NodeRegistered", "NodeBatteryChanged", "NodeParked"]
    assert await store.read_aggregate(PLATFORM_TENANT, "node", "car-2") == []
    assert beats == [heartbeat_subject("car-1")]
    # The server names each refusal (nats-py lower-cases the message).
    violations = [str(e).lower() for e in errors if "permissions violation" in str(e).lower()]
    assert any(f'publish to "{heartbeat_subject("car-2")}"' in v for v in violations)
    assert any('publish to "ev._platform.node.car-2.' in v for v in violations)
    assert any('subscription to "fleet.hb.>"' in v for v in violations)
    await platform.close()


def _env(event: NodeThrottled, node_id: str):  # type: ignore[no-untyped-def]
    from macrohard.contracts import envelope

    return envelope(event, tenant=PLATFORM_TENANT, aggregate_id=node_id)

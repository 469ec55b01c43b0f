"""The registry's batch heartbeat intake on a real NATS connection: every raw message
reaches the handler exactly once and in order, whatever the payload holds (CRLF, a forged
MSG line, nothing, 100 KB) and however the reads cut the frames; the connection's other
subscriptions, requests and PING/PONG work as before. Then the heartbeat handler itself:
a car is watched only on its own partition's subject, and a malformed beat is dropped."""

from __future__ import annotations

import asyncio

import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from macrohard.contracts.fleet import PARTITIONS, Heartbeat, heartbeat_subject, partition_of
from macrohard.eventlog.store import EventStore
from macrohard.node_registry.handlers import heartbeat_intake
from macrohard.node_registry.intake import subscribe_raw, unsubscribe_raw
from macrohard.node_registry.registry import Registry

ODD_PAYLOADS = [
    b"",
    b"\r\n",
    b"x\r\nMSG fleet.hb.5.victim 1 2\r\nab",  # a forged frame inside a payload
    b"PING\r\n",
    b"y" * 100_000,
    b'["car",1,0.5,0,0.0]',
]


async def test_every_raw_message_arrives_once_in_order_beside_ordinary_traffic(
    nc: NATS, nats_url: str
) -> None:
    got: list[tuple[bytes, bytes]] = []
    ordinary: list[bytes] = []

    def on_batch(subjects: list[bytes], payloads: list[bytes]) -> None:
        got.extend(zip(subjects, payloads, strict=True))

    async def on_ordinary(msg: Msg) -> None:
        ordinary.append(msg.data)

    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data[::-1])

    raw = await subscribe_raw(nc, "fleet.hb.5.*", on_batch)
    await nc.subscribe("intake.ordinary", cb=on_ordinary)
    sender = await nats.connect(nats_url)
    try:
        await sender.subscribe("intake.echo", cb=echo)
        await sender.flush()
        expected = []
        for i in range(6000):
            # First plain heartbeats (whole reads of them take the batch path), then odd
            # frames among them (those reads take the careful path).
            odd = i >= 3000 and i % 7 == 0
            subject = f"fleet.hb.5.car-{i}"
            payload = ODD_PAYLOADS[i % len(ODD_PAYLOADS)] if odd else b"%d" % i
            expected.append((subject.encode(), payload))
            # Some with a reply subject (another frame shape), some ordinary traffic between.
            await sender.publish(subject, payload, reply="r.x" if odd and i % 11 == 0 else "")
            if i >= 3000 and i % 13 == 0:
                await sender.publish("intake.ordinary", b"o%d" % i)
        await sender.flush()
        reply = await nc.request("intake.echo", b"abc", timeout=5)  # through the same parser
        assert reply.data == b"cba"
        for _ in range(200):
            if len(got) >= len(expected):
                break
            await asyncio.sleep(0.05)
        await nc.flush()  # PING/PONG through the parser
        assert got == expected
        assert ordinary == [b"o%d" % i for i in range(3000, 6000) if i % 13 == 0]

        unsubscribe_raw(nc, raw)
        await raw.unsubscribe()
        await sender.publish("fleet.hb.5.car-late", b"late")
        await sender.flush()
        await nc.flush()
        assert len(got) == len(expected)  # nothing after the unsubscribe
    finally:
        await sender.close()


async def test_a_car_is_watched_only_on_its_own_partition(nc: NATS) -> None:
    registry = Registry(EventStore(nc), heartbeat_interval_s=10.0)
    registry.owned = set(range(PARTITIONS))
    on_beats = heartbeat_intake(registry)
    beat = msgspec.json.encode(Heartbeat(node_id="car-a", seq=1, state_of_charge=0.7))
    elsewhere = (partition_of("car-a") + 1) % PARTITIONS
    on_beats(
        [f"fleet.hb.{elsewhere}.car-a".encode(), heartbeat_subject("car-b").encode()],
        [beat, msgspec.json.encode(Heartbeat(node_id="car-b", seq=1))],
    )
    assert set(registry.liveness.last_seen) == {"car-b"} and registry.heartbeats == 1
    on_beats([heartbeat_subject("car-a").encode(), heartbeat_subject("car-c").encode()],
             [beat, b"not a heartbeat"])  # fmt: skip
    assert set(registry.liveness.last_seen) == {"car-a", "car-b"} and registry.heartbeats == 2

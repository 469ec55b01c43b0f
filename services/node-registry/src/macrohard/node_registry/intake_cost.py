"""CPU per heartbeat of a registry replica's intake, two ways side by side in one process:
nats-py's own parser with a handler per message (the way a subscription delivers), and
the registry's batch intake (`node_registry.intake` + `handlers.heartbeat_intake`).

Both are fed the same bytes, exactly what the NATS server writes to a replica's
heartbeat connection (`MSG fleet.hb.<p>.<car> <sid> <size>` frames of JSON heartbeats,
cut in the client's 32 KiB reads), into a live `Registry` watching the same cars, and
both update it the same way (liveness, charge against owners' minimums). Each way runs
twice and the second pass is timed (every car already watched: the steady state).
`mh bench registry` prints the result next to the end-to-end figures (through
`node_registry.public`), so the "before" is measured in the same run, on the same machine,
under the same load.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from nats.protocol.parser import Parser

from macrohard.contracts.fleet import PARTITIONS, Heartbeat, heartbeat_subject, partition_of
from macrohard.eventlog.store import EventStore
from macrohard.node_registry.handlers import heartbeat_intake
from macrohard.node_registry.intake import BatchParser
from macrohard.node_registry.registry import Registry

READ_BYTES = 32 * 1024  # nats-py's read size


def heartbeat_wire(cars: int) -> bytes:
    """What the server sends a replica subscribed to every partition (sid = partition + 1)."""
    encode = msgspec.json.Encoder().encode
    frames = []
    for i in range(cars):
        car = f"cost-{i}"
        body = encode(Heartbeat(node_id=car, seq=1_000_000_001, state_of_charge=0.63))
        subject = heartbeat_subject(car).encode()
        sid = partition_of(car) + 1
        frames.append(b"MSG %s %d %d\r\n%s\r\n" % (subject, sid, len(body), body))
    return b"".join(frames)


class _PerMessage:
    """The client side of nats-py's parser: one awaited dispatch per message, decoding it
    and recording it in the registry, as a subscription callback would."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.decode = msgspec.json.Decoder(Heartbeat).decode

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        beat = self.decode(data)
        self.registry.beat(beat.node_id, beat.state_of_charge, time.monotonic())


async def _feed(parser: Parser | BatchParser, reads: list[bytes]) -> float:
    start = time.process_time()
    for read in reads:
        await parser.parse(read)
    return time.process_time() - start


async def intake_cost(store: EventStore, cars: int = 100_000) -> dict[str, Any]:
    """CPU microseconds per heartbeat, per message (nats-py) and batched (the intake)."""
    wire = heartbeat_wire(cars)
    reads = [wire[i : i + READ_BYTES] for i in range(0, len(wire), READ_BYTES)]
    row: dict[str, Any] = {}
    for name in ("per_message", "batch"):
        registry = Registry(store, heartbeat_interval_s=10.0)
        registry.owned = set(range(PARTITIONS))
        parser: Parser | BatchParser
        if name == "per_message":
            parser = Parser(_PerMessage(registry))
        else:
            parser = BatchParser(Parser(None))
            on_beats = heartbeat_intake(registry)
            parser.handlers = {b"%d" % (p + 1): on_beats for p in range(PARTITIONS)}
        await _feed(parser, reads)  # every car new: its first deadline
        spent = await _feed(parser, reads)
        assert registry.heartbeats == 2 * cars, (name, registry.heartbeats)
        row[f"intake_{name}_us_per_beat"] = round(spent / cars * 1e6, 2)
        await asyncio.sleep(0)
    row["intake_speedup"] = round(
        row["intake_per_message_us_per_beat"] / row["intake_batch_us_per_beat"], 2
    )
    return row

"""One heartbeat publisher of `mh bench registry`: a slice of the simulated fleet, as its own
process (one Python process cannot offer a million cars' rate and leave the registry a core).

`python -m macrohard.bench.heartbeats NATS_URL PREFIX START STOP INTERVAL SECONDS` makes
cars PREFIX-START .. PREFIX-(STOP-1) heartbeat once per INTERVAL, spread evenly over it
(a batch every TICK_S), for SECONDS, each beat its own NATS message on the car's own subject
with a fresh sequence number and charge: what real cars would send, at the rate they would
send it. It prints `ready` when it starts sending, then `sent N elapsed_s E`, so the
benchmark reports the rate actually offered, not the one asked.

Batched: the publisher speaks the NATS protocol itself and writes a tick's PUB frames in
one write (nats-py costs a few microseconds per publish, and on a small machine the
publishers' CPU would be taken from the registry under test). The server sees exactly the
messages a million separate cars would send; only the sender is cheaper.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from urllib.parse import urlsplit

import msgspec

from macrohard.contracts.fleet import heartbeat_subject

TICK_S = 0.1
SEQ_BASE = 1_000_000_000  # sequences of 10 digits, so every frame's size is known up front
TAIL = len(b"%d,0.50,0,0.0]" % SEQ_BASE)  # sequence, charge, inflight, latency_ms


async def _answer_pings(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The server pings idle-looking clients; a PONG keeps the connection."""
    while line := await reader.readline():
        if line.startswith(b"PING"):
            writer.write(b"PONG\r\n")
        elif line.startswith(b"-ERR"):
            raise ConnectionError(line.decode().strip())


async def publish(
    url: str, prefix: str, start: int, stop: int, interval: float, seconds: float
) -> tuple[int, float]:
    where = urlsplit(url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port or 4222)
    await reader.readline()  # INFO
    writer.write(b'CONNECT {"verbose":false,"pedantic":false,"name":"bench-fleet"}\r\nPING\r\n')
    await writer.drain()
    while not (await reader.readline()).startswith(b"PONG"):
        pass
    pings = asyncio.create_task(_answer_pings(reader, writer))
    # Each car's frame up to its charge: `PUB <its subject> <size>\r\n["<its id>",`. The rest
    # (sequence, charge, gauges) is the same for every car of a tick and has a fixed width
    # (a 10-digit sequence, a 2-decimal charge), so the size is known in advance and a
    # tick's frames are one join: each car still sends its own message with this tick's
    # sequence and charge, decoded by the registry as the `Heartbeat` it is.
    heads = []
    for i in range(start, stop):
        car = f"{prefix}-{i}"
        opening = b"[" + msgspec.json.encode(car) + b","
        size = len(opening) + TAIL
        heads.append(b"PUB %s %d\r\n%s" % (heartbeat_subject(car).encode(), size, opening))
    per_tick = len(heads) * TICK_S / interval
    loop = asyncio.get_running_loop()
    print("ready", flush=True)  # the benchmark's clock starts when every publisher is
    t0 = loop.time()
    sent = 0
    owed = 0.0
    cursor = 0
    tick = 0
    while loop.time() - t0 < seconds:
        owed += per_tick
        tick += 1
        soc = 0.5 + (tick % 40) / 100  # a battery that moves, above any test minimum
        rest = b"%d,%.2f,0,0.0]\r\n" % (SEQ_BASE + tick, soc)
        count = int(owed)
        chosen = heads[cursor : cursor + count]
        if len(chosen) < count:  # wrap around the fleet
            chosen += heads[: count - len(chosen)]
        cursor = (cursor + count) % len(heads)
        if chosen:
            writer.write(rest.join(chosen) + rest)
            await writer.drain()
        sent += count
        owed -= count
        await asyncio.sleep(max(t0 + tick * TICK_S - loop.time(), 0))
    elapsed = loop.time() - t0
    pings.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pings
    writer.close()
    return sent, elapsed


def main() -> None:
    url, prefix, start, stop, interval, seconds = sys.argv[1:7]
    t = time.monotonic()
    sent, elapsed = asyncio.run(
        publish(url, prefix, int(start), int(stop), float(interval), float(seconds))
    )
    print(f"sent {sent} elapsed_s {elapsed:.3f} wall_s {time.monotonic() - t:.3f}", flush=True)


if __name__ == "__main__":
    main()

"""One heartbeat publisher of `mh bench registry`: a slice of the simulated fleet, as its own
process (one Python process cannot offer a million cars' rate and leave the registry a core).

`python -m macrohard.bench.heartbeats NATS_URL PREFIX START STOP INTERVAL SECONDS` makes
cars PREFIX-START .. PREFIX-(STOP-1) heartbeat once per INTERVAL, spread evenly over it
(a batch every TICK_S), for SECONDS, on each car's own subject with a fresh sequence number
and charge: what real cars would send, at the rate they would send it. It prints `ready`
when it starts sending, then `sent N elapsed_s E`, so the benchmark reports the rate
actually offered, not the one asked.
"""

from __future__ import annotations

import asyncio
import sys
import time

import msgspec
import nats

from macrohard.contracts.fleet import Heartbeat, heartbeat_subject

TICK_S = 0.1


async def publish(
    url: str, prefix: str, start: int, stop: int, interval: float, seconds: float
) -> tuple[int, float]:
    nc = await nats.connect(url, pending_size=256 * 1024 * 1024)
    ids = [f"{prefix}-{i}" for i in range(start, stop)]
    subjects = [heartbeat_subject(i) for i in ids]
    encode = msgspec.json.Encoder().encode
    per_tick = len(ids) * TICK_S / interval
    loop = asyncio.get_running_loop()
    print("ready", flush=True)  # the benchmark's clock starts when every publisher is
    t0 = loop.time()
    sent = 0
    owed = 0.0
    cursor = 0
    tick = 0
    seq = 0
    while loop.time() - t0 < seconds:
        owed += per_tick
        seq += 1
        soc = 0.5 + (seq % 40) / 100  # a battery that moves, above any test minimum
        for _ in range(int(owed)):
            await nc.publish(
                subjects[cursor],
                encode(Heartbeat(node_id=ids[cursor], seq=seq, state_of_charge=soc)),
            )
            cursor += 1
            if cursor == len(ids):
                cursor = 0
        sent += int(owed)
        owed -= int(owed)
        tick += 1
        await asyncio.sleep(max(t0 + tick * TICK_S - loop.time(), 0))
    await nc.flush()
    elapsed = loop.time() - t0
    await nc.close()
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

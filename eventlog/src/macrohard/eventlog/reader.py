"""The one reader of stored messages: JetStream's batch direct get, no consumer needed.

The event store (an aggregate's history), the dead-letter listing and every debugging
command read the log through `read_stream`. Direct get creates nothing on the server, so
reading for debugging never leaves state behind, and one request returns a whole batch.

The loop: ask for up to `batch` messages on `filt` from a sequence (or, the first time, a
time); the server answers with the messages and then a status message, 204 "end of batch"
with how many are still pending or 404 "nothing (more)". Ask again from the last sequence
+ 1 while messages are pending.

A caller that stops early must close the generator (`contextlib.aclosing`) so the reply
subscription goes away at once rather than when the generator is collected.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.aio.client import Client as NATS


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message as the stream holds it: its place, its headers and its bytes."""

    sequence: int
    subject: str
    stored_at: datetime | None
    headers: Mapping[str, str]
    data: bytes


def parse_nats_time(value: str) -> datetime:
    """A NATS timestamp (RFC 3339 with nanoseconds) as an aware datetime (microseconds)."""
    value = value.strip().replace("Z", "+00:00")
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", value)
    if m and m.group(2):
        value = m.group(1) + m.group(2)[:7] + m.group(3)
    stamp = datetime.fromisoformat(value)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _stored(data: bytes, headers: Mapping[str, str]) -> StoredMessage:
    stamp = headers.get("Nats-Time-Stamp")
    return StoredMessage(
        sequence=int(headers["Nats-Sequence"]),
        subject=headers.get("Nats-Subject", ""),
        stored_at=parse_nats_time(stamp) if stamp else None,
        headers=headers,
        data=data,
    )


async def read_stream(
    nc: NATS,
    stream: str,
    filt: str,
    *,
    start: int = 1,
    start_time: datetime | None = None,
    batch: int = 500,
    timeout: float = 5.0,
) -> AsyncGenerator[StoredMessage, None]:
    """Every message of `stream` on `filt` from sequence `start` (or from `start_time` when
    `start` is 1), in stream order, read in batches of `batch` by direct get."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    first = True
    try:
        while True:
            req: dict[str, Any] = {"next_by_subj": filt, "batch": batch}
            if first and start_time is not None and start <= 1:
                req["start_time"] = start_time.astimezone(UTC).isoformat().replace("+00:00", "Z")
            else:
                req["seq"] = start
            first = False
            await nc.publish(f"$JS.API.DIRECT.GET.{stream}", msgspec.json.encode(req), reply=inbox)
            pending = 0
            while True:
                msg = await sub.next_msg(timeout=timeout)
                headers = dict(msg.headers or {})
                status = headers.get("Status")
                if status:  # 204: end of this batch; 404: nothing (more) to read
                    pending = int(headers.get("Nats-Num-Pending", "0") or 0)
                    break
                stored = _stored(msg.data, headers)
                yield stored
                start = stored.sequence + 1
            if status != "204" or pending == 0:
                return
    finally:
        await sub.unsubscribe()


async def read_message(
    nc: NATS, stream: str, sequence: int, timeout: float = 5.0
) -> StoredMessage | None:
    """The message at `sequence`, or None when there is none (deleted, or past the head)."""
    req = msgspec.json.encode({"seq": sequence})
    reply = await nc.request(f"$JS.API.DIRECT.GET.{stream}", req, timeout)
    headers = dict(reply.headers or {})
    if headers.get("Status"):
        return None
    return _stored(reply.data, headers)


async def last_sequence(nc: NATS, stream: str, timeout: float = 5.0) -> int:
    """The last sequence in `stream` (0 when empty)."""
    reply = await nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout)
    return int(msgspec.json.decode(reply.data)["state"]["last_seq"])

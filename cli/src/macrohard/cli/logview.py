"""Reading the event log the way an operator looks at it: filtered scans, lookups, rendering.

Shared by `mh events`, `mh trace`, `mh state` and `mh task replay`. Reads use JetStream's
batch direct get (no consumer is created, so debugging never leaves state on the server)
and decode through the registry; an event this build does not know is still shown, from
its raw JSON, because a debugging tool must never hide the very event that confuses it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import nats
from nats.aio.client import Client as NATS

from macrohard.cli.platform import PlatformRef, resolve
from macrohard.contracts import REGISTRY
from macrohard.contracts.subjects import EVENT_PREFIX, EVENTS_STREAM

DIRECT_GET = f"$JS.API.DIRECT.GET.{EVENTS_STREAM}"


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One stored event as an operator sees it: where it sits and its envelope as JSON."""

    sequence: int
    subject: str
    stored_at: datetime
    envelope: dict[str, Any]
    decoded: bool  # False when the registry could not decode it (shown raw)

    @property
    def id(self) -> str:
        return str(self.envelope.get("id", ""))

    @property
    def type(self) -> str:
        return str(self.envelope.get("type", self.subject.rsplit(".", 1)[-1]))

    @property
    def payload(self) -> dict[str, Any]:
        p = self.envelope.get("payload")
        return p if isinstance(p, dict) else {}

    @property
    def occurred_at(self) -> datetime:
        raw = self.envelope.get("occurred_at")
        return parse_time(raw) if isinstance(raw, str) else self.stored_at

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "subject": self.subject,
            "stored_at": self.stored_at.isoformat(),
            "decoded": self.decoded,
            "envelope": self.envelope,
        }


@dataclass
class Session:
    """Connections of one command run; the database is optional (index lookups only)."""

    nc: NATS
    platform: PlatformRef
    pool: asyncpg.Pool | None = None
    notes: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def connect(args: argparse.Namespace, *, database: bool = False) -> AsyncIterator[Session]:
    ref = resolve(args)
    nc = await nats.connect(ref.nats_url, name="mh-cli", max_reconnect_attempts=2)
    pool = None
    try:
        if database and ref.database_url:
            pool = await asyncpg.create_pool(ref.database_url, min_size=1, max_size=4)
        yield Session(nc, ref, pool)
    finally:
        if pool is not None:
            await pool.close()
        await nc.close()


def parse_time(value: str) -> datetime:
    # NATS writes nanoseconds; Python keeps microseconds.
    value = value.strip().replace("Z", "+00:00")
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", value)
    if m and m.group(2):
        value = m.group(1) + m.group(2)[:7] + m.group(3)
    stamp = datetime.fromisoformat(value)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`10m`, `2h`, `1d` ago, or an ISO time."""
    m = _DURATION.match(value.strip())
    if m:
        ago = float(m.group(1)) * _UNITS[m.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=ago)
    return parse_time(value)


def parse_point(value: str) -> int | datetime:
    """A point in the log: a stream sequence (digits) or a time (ISO or `10m` ago)."""
    return int(value) if value.isdigit() else parse_since(value)


def subject_filter(
    tenant: str | None = None,
    aggregate: str | None = None,
    event_type: str | None = None,
) -> str:
    """`--aggregate` is a type (`task`) or a type and id (`task/t-1`)."""
    agg_type, _, agg_id = (aggregate or "*").partition("/")
    return ".".join(
        [EVENT_PREFIX, tenant or "*", agg_type or "*", agg_id or "*", event_type or "*"]
    )


def to_log_event(data: bytes, headers: dict[str, str]) -> LogEvent:
    seq = int(headers["Nats-Sequence"])
    subject = headers.get("Nats-Subject", "")
    stored = parse_time(headers["Nats-Time-Stamp"]) if "Nats-Time-Stamp" in headers else None
    try:
        env = REGISTRY.decode(data)
        body: dict[str, Any] = msgspec.to_builtins(env)
        decoded = True
    except Exception:
        # Unknown type or a newer schema: show what is stored rather than nothing.
        try:
            body = json.loads(data)
        except ValueError:
            body = {"raw": data.decode("utf-8", "replace")}
        decoded = False
    return LogEvent(seq, subject, stored or datetime.fromtimestamp(0, UTC), body, decoded)


async def scan(
    nc: NATS,
    filt: str = f"{EVENT_PREFIX}.>",
    *,
    start: int = 1,
    start_time: datetime | None = None,
    stop: int | None = None,
    batch: int = 500,
    timeout: float = 5.0,
) -> AsyncIterator[LogEvent]:
    """Every event on `filt` from `start` (or `start_time`) up to `stop`, in log order."""
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
            await nc.publish(DIRECT_GET, msgspec.json.encode(req), reply=inbox)
            pending = 0
            while True:
                msg = await sub.next_msg(timeout=timeout)
                headers = dict(msg.headers or {})
                status = headers.get("Status")
                if status:  # 204: end of this batch; 404: nothing (more) to read
                    pending = int(headers.get("Nats-Num-Pending", "0") or 0)
                    break
                event = to_log_event(msg.data, headers)
                if stop is not None and event.sequence > stop:
                    return
                yield event
                start = event.sequence + 1
            if status != "204" or pending == 0:
                return
    finally:
        await sub.unsubscribe()


async def read_one(nc: NATS, sequence: int) -> LogEvent | None:
    req = msgspec.json.encode({"seq": sequence})
    reply = await nc.request(DIRECT_GET, req, 5.0)
    headers = dict(reply.headers or {})
    if headers.get("Status"):
        return None
    return to_log_event(reply.data, headers)


async def stream_head(nc: NATS) -> int:
    reply = await nc.request(f"$JS.API.STREAM.INFO.{EVENTS_STREAM}", b"", 5.0)
    return int(msgspec.json.decode(reply.data)["state"]["last_seq"])


async def index_position(pool: asyncpg.Pool) -> int | None:
    """How far the event index projection got, or None when it is not there."""
    async with pool.acquire() as conn:
        exists = await conn.fetchval("SELECT to_regclass('eventlog.event_index') IS NOT NULL")
        if not exists:
            return None
        pos = await conn.fetchval(
            "SELECT position FROM eventlog.checkpoints WHERE projection = 'event_index'"
        )
        return int(pos or 0)


async def find_by_correlation(session: Session, correlation_id: str) -> list[LogEvent]:
    """Every event of one request: from the event index where it runs, plus a scan of
    whatever the index has not reached yet (or of the whole log without an index)."""
    found: list[LogEvent] = []
    scan_from = 1
    if session.pool is not None:
        position = await index_position(session.pool)
        if position is not None:
            async with session.pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT seq FROM eventlog.event_index WHERE correlation_id = $1 ORDER BY seq",
                    correlation_id,
                )
            for row in rows:
                event = await read_one(session.nc, int(row["seq"]))
                if event is not None:
                    found.append(event)
            scan_from = position + 1
            session.notes.append(f"event index up to #{position}, scanned the rest")
    if scan_from == 1:
        session.notes.append("no event index: scanned the whole log")
    async for event in scan(session.nc, start=scan_from):
        if event.envelope.get("correlation_id") == correlation_id:
            found.append(event)
    return found


async def find_event_id(session: Session, event_id: str) -> LogEvent | None:
    """Look an event id up in the index, else scan the log for it."""
    if session.pool is not None and await index_position(session.pool) is not None:
        async with session.pool.acquire() as conn:
            with contextlib.suppress(asyncpg.DataError, ValueError):
                seq = await conn.fetchval(
                    "SELECT seq FROM eventlog.event_index WHERE event_id = $1::uuid", event_id
                )
                if seq is not None:
                    return await read_one(session.nc, int(seq))
    async for event in scan(session.nc):
        if event.id == event_id:
            return event
    return None


def key_fields(payload: dict[str, Any], width: int = 80) -> str:
    """The short scalar fields of a payload as `k=v`, for one-line listings."""
    parts: list[str] = []
    for key, value in payload.items():
        if key.endswith("_event_id"):
            continue  # a link, not a fact: `mh events show` has it
        if isinstance(value, dict) and key in ("intent", "observation"):
            # The two nested shapes an operator most wants in one line.
            inner = {k: v for k, v in value.items() if k in ("action", "element", "url", "title")}
            parts.extend(f"{k}={v}" for k, v in inner.items())
            continue
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, float):
            text = f"{value:g}"
        elif isinstance(value, str | int):
            text = str(value)
        else:
            continue
        parts.append(f"{key}={text if len(text) <= 40 else text[:37] + '...'}")
    line = " ".join(parts)
    return line if len(line) <= width else line[: width - 3] + "..."


def wants_rich(args: argparse.Namespace) -> bool:
    return not getattr(args, "json", False) and sys.stdout.isatty()


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def iter_lines(rows: list[list[str]]) -> Iterator[str]:
    """Plain aligned columns for pipes and logs (rich only on a terminal)."""
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        yield "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()

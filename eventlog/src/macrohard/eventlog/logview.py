"""Reading the event log the way an operator looks at it: filtered scans and lookups.

What every debugging command (`mh events`, `mh trace`, `mh state`, `mh task replay`) reads
the log with. Reads go through the one direct-get reader (`reader.py`: no consumer is
created, so debugging never leaves state on the server) and decode through the registry;
an event this build does not know is still shown, from its raw JSON, because a debugging
tool must never hide the very event that confuses it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from nats.aio.client import Client as NATS

from macrohard.contracts import REGISTRY
from macrohard.contracts.subjects import EVENT_PREFIX, EVENTS_STREAM
from macrohard.eventlog.reader import (
    StoredMessage,
    last_sequence,
    parse_nats_time,
    read_message,
    read_stream,
)


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
        return parse_nats_time(raw) if isinstance(raw, str) else self.stored_at

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "subject": self.subject,
            "stored_at": self.stored_at.isoformat(),
            "decoded": self.decoded,
            "envelope": self.envelope,
        }


@dataclass
class LogReader:
    """What a lookup reads: the log, and the event index's database when there is one.

    `notes` collects what a reader should know about how an answer was found (index or scan).
    """

    nc: NATS
    pool: asyncpg.Pool | None = None
    notes: list[str] = field(default_factory=list)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`10m`, `2h`, `1d` ago, or an ISO time."""
    m = _DURATION.match(value.strip())
    if m:
        ago = float(m.group(1)) * _UNITS[m.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=ago)
    return parse_nats_time(value)


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


def to_log_event(stored: StoredMessage) -> LogEvent:
    try:
        env = REGISTRY.decode(stored.data)
        body: dict[str, Any] = msgspec.to_builtins(env)
        decoded = True
    except (msgspec.DecodeError, LookupError, ValueError):
        # Unknown type, no upcaster, a newer schema or bad JSON: show what is stored.
        try:
            body = json.loads(stored.data)
        except ValueError:
            body = {"raw": stored.data.decode("utf-8", "replace")}
        decoded = False
    stored_at = stored.stored_at or datetime.fromtimestamp(0, UTC)
    return LogEvent(stored.sequence, stored.subject, stored_at, body, decoded)


async def scan(
    nc: NATS,
    filt: str = f"{EVENT_PREFIX}.>",
    *,
    start: int = 1,
    start_time: datetime | None = None,
    stop: int | None = None,
    batch: int = 500,
    timeout: float = 5.0,
) -> AsyncGenerator[LogEvent, None]:
    """Every event on `filt` from `start` (or `start_time`) up to `stop`, in log order."""
    messages = read_stream(
        nc, EVENTS_STREAM, filt, start=start, start_time=start_time, batch=batch, timeout=timeout
    )
    async with contextlib.aclosing(messages):
        async for stored in messages:
            if stop is not None and stored.sequence > stop:
                return
            yield to_log_event(stored)


async def read_one(nc: NATS, sequence: int) -> LogEvent | None:
    stored = await read_message(nc, EVENTS_STREAM, sequence)
    return None if stored is None else to_log_event(stored)


async def stream_head(nc: NATS) -> int:
    return await last_sequence(nc, EVENTS_STREAM)


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


async def find_by_correlation(session: LogReader, correlation_id: str) -> list[LogEvent]:
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


async def find_event_id(session: LogReader, event_id: str) -> LogEvent | None:
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

"""The envelope every event travels in, and the base class of every event payload.

On the wire an event is one JSON object (humans read the log with `nats stream view`):
the envelope fields plus `payload`, the event's own fields. The envelope is the same
for every event so that tooling (replay, trace, DLQ) never needs to know a payload.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import msgspec
import uuid_utils


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every event payload.

    `aggregate_type` names the aggregate the event belongs to (a subject token) and
    `schema_version` the current shape; older shapes are upcast on read (see upcasting.py).
    The event's type name is its class name: one name, one meaning, forever.
    """

    aggregate_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """An event about to be appended, or as read back (then with `sequence` and `subject`)."""

    id: str
    type: str
    schema_version: int
    tenant: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    payload: Event


class RecordedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event read from the log: the envelope plus where the log put it."""

    sequence: int
    subject: str
    envelope: Envelope

    @property
    def payload(self) -> Event:
        return self.envelope.payload

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def type(self) -> str:
        return self.envelope.type


class RawEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """The wire shape with the payload left undecoded, so it can be upcast first."""

    id: str
    type: str
    schema_version: int
    tenant: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    payload: msgspec.Raw


def new_event_id() -> str:
    """A fresh UUIDv7: time-ordered, so ids sort roughly by creation."""
    return str(uuid_utils.uuid7())


def derived_event_id(cause_id: str, purpose: str) -> str:
    """A UUIDv7 determined by its cause: the same cause and purpose give the same id.

    Side-effect handlers use this so a redelivered command re-appends the *same* event id
    and JetStream's de-duplication drops it. The timestamp bits are copied from the cause
    (itself a v7) so the id still sorts near its cause; the rest comes from a hash.
    """
    cause = uuid.UUID(cause_id)
    digest = hashlib.sha256(f"{cause_id}/{purpose}".encode()).digest()
    ts_bits = cause.int >> 80 if cause.version == 7 else int.from_bytes(digest[-6:], "big")
    rand = int.from_bytes(digest[:10], "big")
    value = (ts_bits & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 68) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return str(uuid.UUID(int=value))


def utcnow() -> datetime:
    return datetime.now(UTC)


def envelope(
    event: Event,
    *,
    tenant: str,
    aggregate_id: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Wrap a payload for appending. A new correlation starts at the event itself."""
    eid = event_id or new_event_id()
    return Envelope(
        id=eid,
        type=type(event).__name__,
        schema_version=type(event).schema_version,
        tenant=tenant,
        aggregate_type=type(event).aggregate_type,
        aggregate_id=aggregate_id,
        occurred_at=occurred_at or utcnow(),
        correlation_id=correlation_id or eid,
        causation_id=causation_id,
        payload=event,
    )


def caused_by(
    event: Event,
    cause: Envelope,
    *,
    aggregate_id: str,
    tenant: str | None = None,
    purpose: str | None = None,
) -> Envelope:
    """Wrap a payload that a handler emits in reaction to `cause`.

    With `purpose`, the id is derived from the cause (idempotent re-append on redelivery).
    """
    return envelope(
        event,
        tenant=tenant if tenant is not None else cause.tenant,
        aggregate_id=aggregate_id,
        correlation_id=cause.correlation_id,
        causation_id=cause.id,
        event_id=derived_event_id(cause.id, purpose) if purpose else None,
    )


def summary(env: Envelope) -> dict[str, Any]:
    """Envelope fields without the payload, for log lines."""
    return {
        "event_id": env.id,
        "type": env.type,
        "tenant": env.tenant,
        "aggregate": f"{env.aggregate_type}/{env.aggregate_id}",
        "correlation_id": env.correlation_id,
    }

"""The envelope every event travels in, and the base class of every event payload.

On the wire an event is one JSON object (humans read the log with `nats stream view`):
the envelope fields plus `payload`, the event's own fields. The envelope is the same
for every event so that tooling (replay, trace, DLQ) never needs to know a payload.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import msgspec
import uuid_utils


class Event(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base of every event payload.

    gc=False (here and on the envelopes): events are trees, never cycles, so the garbage
    collector need not track them; a replay creates hundreds of thousands of them.

    `aggregate_type` names the aggregate the event belongs to (a subject token) and
    `schema_version` the current shape; older shapes are upcast on read (see upcasting.py).
    The event's type name is its class name: one name, one meaning, forever.
    """

    aggregate_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class _EnvelopeFields(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What every event carries besides its payload (one definition for both shapes)."""

    id: str
    type: str
    schema_version: int
    tenant: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None


class Envelope(_EnvelopeFields, frozen=True, kw_only=True, gc=False):
    """An event about to be appended, or as read back (then with `sequence` and `subject`)."""

    payload: Event


class RawEnvelope(_EnvelopeFields, frozen=True, kw_only=True, gc=False):
    """The wire shape with the payload left undecoded, so it can be upcast first."""

    payload: msgspec.Raw


class EnvelopeHeader(Protocol):
    """The envelope fields without the payload: what routing and indexing need."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def aggregate_type(self) -> str: ...
    @property
    def aggregate_id(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def correlation_id(self) -> str: ...
    @property
    def causation_id(self) -> str | None: ...


class RecordedEvent:
    """An event read from the log: where the log put it, and its envelope.

    The payload is decoded (and upcast) on first use of `envelope`/`payload`. A projection
    that only needs envelope fields reads `header` and never pays for the payload, which is
    a sixth of a rebuild's cost.
    """

    __slots__ = ("_decode", "_envelope", "_raw", "sequence", "subject")

    def __init__(
        self,
        *,
        sequence: int,
        subject: str,
        envelope: Envelope | None = None,
        raw: RawEnvelope | None = None,
        decode: Callable[[RawEnvelope], Envelope] | None = None,
    ) -> None:
        if envelope is None and (raw is None or decode is None):
            raise ValueError("RecordedEvent needs an envelope, or a raw envelope and a decoder")
        self.sequence = sequence
        self.subject = subject
        self._envelope = envelope
        self._raw = raw
        self._decode = decode

    @property
    def envelope(self) -> Envelope:
        if self._envelope is None:
            assert self._raw is not None and self._decode is not None
            self._envelope = self._decode(self._raw)
        return self._envelope

    @property
    def header(self) -> EnvelopeHeader:
        return self._envelope if self._envelope is not None else self._raw  # type: ignore[return-value]

    @property
    def payload(self) -> Event:
        return self.envelope.payload

    @property
    def id(self) -> str:
        return self.header.id

    @property
    def type(self) -> str:
        return self.header.type

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordedEvent):
            return NotImplemented
        return (self.sequence, self.subject, self.envelope) == (
            other.sequence,
            other.subject,
            other.envelope,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RecordedEvent(sequence={self.sequence}, subject={self.subject!r})"


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

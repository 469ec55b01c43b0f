"""The one vocabulary of the system: every event type, by name, and how to read it.

Registration is explicit (each context module lists its events) rather than discovered by
reflection, so a reader sees at a glance what exists and an import never changes behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from macrohard.contracts.envelope import Envelope, Event, RawEnvelope, RecordedEvent
from macrohard.contracts.upcasting import Upcaster, upcast


class UnknownEventType(LookupError):
    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class FutureSchemaVersion(ValueError):
    """A message written by newer code than this reader: refuse rather than guess."""

    def __init__(self, event_type: str, version: int, known: int) -> None:
        super().__init__(f"{event_type} schema version {version} is newer than known {known}")
        self.event_type = event_type
        self.version = version


class EventRegistry:
    """Maps event type names to payload classes and decodes/encodes envelopes."""

    def __init__(
        self,
        events: Iterable[type[Event]],
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self._types: dict[str, type[Event]] = {}
        for cls in events:
            name = cls.__name__
            if name in self._types:
                raise ValueError(f"event type {name} registered twice")
            self._types[name] = cls
        self._upcasters = dict(upcasters or {})
        self._encoder = msgspec.json.Encoder()
        self._raw_decoder = msgspec.json.Decoder(RawEnvelope)
        self._payload_decoders = {n: msgspec.json.Decoder(c) for n, c in self._types.items()}

    @property
    def types(self) -> Mapping[str, type[Event]]:
        return self._types

    def payload_class(self, event_type: str) -> type[Event]:
        try:
            return self._types[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def encode(self, env: Envelope) -> bytes:
        return self._encoder.encode(env)

    def decode(self, data: bytes) -> Envelope:
        """Decode one wire message, upcasting an older payload to the current version."""
        raw = self._raw_decoder.decode(data)
        return self.from_raw(raw)

    def from_raw(self, raw: RawEnvelope) -> Envelope:
        cls = self.payload_class(raw.type)
        if raw.schema_version == cls.schema_version:
            payload = self._payload_decoders[raw.type].decode(raw.payload)
        elif raw.schema_version < cls.schema_version:
            obj: dict[str, Any] = msgspec.json.decode(raw.payload)
            obj = upcast(self._upcasters, raw.type, obj, raw.schema_version, cls.schema_version)
            payload = msgspec.convert(obj, cls)
        else:
            raise FutureSchemaVersion(raw.type, raw.schema_version, cls.schema_version)
        return Envelope(
            id=raw.id,
            type=raw.type,
            schema_version=cls.schema_version,
            tenant=raw.tenant,
            aggregate_type=raw.aggregate_type,
            aggregate_id=raw.aggregate_id,
            occurred_at=raw.occurred_at,
            correlation_id=raw.correlation_id,
            causation_id=raw.causation_id,
            payload=payload,
        )

    def recorded(self, data: bytes, *, sequence: int, subject: str) -> RecordedEvent:
        """A read event; the payload is decoded lazily (see RecordedEvent).

        Unknown types and future schema versions are refused here, eagerly, so a consumer
        dead-letters them instead of failing later inside a handler.
        """
        raw = self._raw_decoder.decode(data)
        cls = self.payload_class(raw.type)
        if raw.schema_version > cls.schema_version:
            raise FutureSchemaVersion(raw.type, raw.schema_version, cls.schema_version)
        return RecordedEvent(sequence=sequence, subject=subject, raw=raw, decode=self.from_raw)

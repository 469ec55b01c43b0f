"""The subject is the truth: an event's envelope must agree with the subject it arrived on.

NATS permissions decide who may publish on which subject (a car only on
`ev._platform.node.<its id>.>`, the actuator only on browser aggregates). The server does not
look inside the message, so without this check a car could publish, on its own allowed
subject, a body that says `tenant: acme, aggregate_type: task, type: InferenceCompleted`, and
every consumer keying its state on the envelope would believe it (bill acme, pay the car).

Every way the kernel hands an event to service code (durable consumers, projection runners,
aggregate reads, the registry's replay) calls `disagreement` first and refuses what it
reports: consumers and projections dead-letter it with the reason and move on, aggregate
reads leave it out of the fold. The rules are generic, so no service repeats them:

1. the subject's tokens (tenant, aggregate type, aggregate id, event type) equal the
   envelope's;
2. the aggregate type is the one the event type belongs to (an `InferenceCompleted` is a task
   event, so it cannot live under a node's subject);
3. a payload field that names the aggregate (`<aggregate_type>_id`: `task_id` of a task
   event, `node_id` of a node event) equals the aggregate id, and a `tenant_id` field equals
   the envelope's tenant unless the event is a platform one (leases name the tenant they
   serve). A car registering "car-2" on car-1's subject is refused here.

Rule 3 reads only the naming fields, with a decoder per type that skips everything else,
so a projection that never reads payloads (the event index) does not pay for decoding them.
"""

from __future__ import annotations

from functools import cache

import msgspec

from macrohard.contracts import PLATFORM_TENANT, REGISTRY, EventRegistry, parse_subject
from macrohard.contracts.envelope import Event, RawEnvelope, RecordedEvent

TENANT_FIELD = "tenant_id"


class ProvenanceError(ValueError):
    """An event whose envelope or payload disagrees with the subject it was published on."""

    def __init__(self, subject: str, reason: str) -> None:
        super().__init__(f"envelope disagrees with subject {subject}: {reason}")
        self.subject = subject
        self.reason = reason


@cache
def _naming_fields(cls: type[Event]) -> tuple[str | None, bool]:
    """(the payload field naming the aggregate or None, whether it has a tenant_id field)."""
    fields = set(cls.__struct_fields__)
    own = f"{cls.aggregate_type}_id"
    return (own if own in fields else None), TENANT_FIELD in fields


@cache
def _names_decoder(cls: type[Event]) -> msgspec.json.Decoder[msgspec.Struct] | None:
    own, tenant = _naming_fields(cls)
    names = [f for f in (own, TENANT_FIELD if tenant else None) if f is not None]
    if not names:
        return None
    # Optional with a default: an old schema version may lack the field (then nothing to
    # compare), and every other payload field is skipped unread.
    shape = msgspec.defstruct(
        f"{cls.__name__}Names", [(n, str | None, None) for n in names], kw_only=True
    )
    return msgspec.json.Decoder(shape)


def _payload_names(rec: RecordedEvent, cls: type[Event]) -> object | None:
    decoder = _names_decoder(cls)
    if decoder is None:
        return None
    header = rec.header
    if isinstance(header, RawEnvelope):  # payload not decoded yet: read just the names
        return decoder.decode(header.payload)
    return rec.payload


def disagreement(rec: RecordedEvent, registry: EventRegistry = REGISTRY) -> str | None:
    """Why `rec` must not be believed, or None when its envelope agrees with its subject.

    An unreadable naming field is a disagreement too, not an exception.
    """
    try:
        tenant, aggregate_type, aggregate_id, event_type = parse_subject(rec.subject)
    except ValueError:
        return f"not an event subject: {rec.subject!r}"
    h = rec.header
    for what, on_subject, in_envelope in (
        ("tenant", tenant, h.tenant),
        ("aggregate type", aggregate_type, h.aggregate_type),
        ("aggregate id", aggregate_id, h.aggregate_id),
        ("event type", event_type, h.type),
    ):
        if on_subject != in_envelope:
            return f"{what} {in_envelope!r} in the envelope, {on_subject!r} on the subject"
    cls = registry.payload_class(h.type)
    if cls.aggregate_type != aggregate_type:
        return f"{h.type} belongs to a {cls.aggregate_type} aggregate, not a {aggregate_type}"
    try:
        names = _payload_names(rec, cls)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return f"payload naming fields unreadable: {exc}"
    if names is None:
        return None
    own, has_tenant = _naming_fields(cls)
    if own is not None:
        value = getattr(names, own)
        if value is not None and value != aggregate_id:
            return f"payload {own} {value!r} is not the subject's aggregate id {aggregate_id!r}"
    if has_tenant and tenant != PLATFORM_TENANT:
        value = getattr(names, TENANT_FIELD)
        if value is not None and value != tenant:
            return f"payload {TENANT_FIELD} {value!r} is not the subject's tenant {tenant!r}"
    return None


def verified(rec: RecordedEvent, registry: EventRegistry = REGISTRY) -> RecordedEvent:
    """`rec` itself when it agrees with its subject; raise ProvenanceError otherwise."""
    reason = disagreement(rec, registry)
    if reason is not None:
        raise ProvenanceError(rec.subject, reason)
    return rec


def refusal(rec: RecordedEvent, registry: EventRegistry = REGISTRY) -> str | None:
    """The dead letter's error text for a disagreeing event, or None when it agrees."""
    reason = disagreement(rec, registry)
    if reason is None:
        return None
    return f"{ProvenanceError.__name__}: {ProvenanceError(rec.subject, reason)}"

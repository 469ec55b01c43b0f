"""The platform's vocabulary: every event as a frozen msgspec Struct, the envelope, subjects.

from macrohard.contracts import REGISTRY, envelope, TaskSubmitted
"""

from macrohard.contracts import (
    agent,
    approvals,
    artifacts,
    billing,
    browser,
    fleet,
    schedules,
    sessions,
    tasks,
    tenancy,
)
from macrohard.contracts.envelope import (
    Envelope,
    Event,
    RawEnvelope,
    RecordedEvent,
    caused_by,
    derived_event_id,
    envelope,
    new_event_id,
    utcnow,
)
from macrohard.contracts.registry import EventRegistry, FutureSchemaVersion, UnknownEventType
from macrohard.contracts.subjects import (
    DLQ_STREAM,
    EVENTS_STREAM,
    PLATFORM_TENANT,
    InvalidSubjectToken,
    aggregate_filter,
    event_subject,
    parse_subject,
    subject_of,
    type_filter,
)

# Every context module lists its own events; this is the one place they come together.
ALL_EVENTS: tuple[type[Event], ...] = (
    *tenancy.EVENTS,
    *tasks.EVENTS,
    *agent.EVENTS,
    *browser.EVENTS,
    *fleet.EVENTS,
    *billing.EVENTS,
    *schedules.EVENTS,
    *approvals.EVENTS,
    *sessions.EVENTS,
    *artifacts.EVENTS,
)
REGISTRY = EventRegistry(ALL_EVENTS, upcasters={**tenancy.UPCASTERS})

__all__ = [
    "ALL_EVENTS",
    "DLQ_STREAM",
    "EVENTS_STREAM",
    "PLATFORM_TENANT",
    "REGISTRY",
    "Envelope",
    "Event",
    "EventRegistry",
    "FutureSchemaVersion",
    "InvalidSubjectToken",
    "RawEnvelope",
    "RecordedEvent",
    "UnknownEventType",
    "aggregate_filter",
    "caused_by",
    "derived_event_id",
    "envelope",
    "event_subject",
    "new_event_id",
    "parse_subject",
    "subject_of",
    "type_filter",
    "utcnow",
]

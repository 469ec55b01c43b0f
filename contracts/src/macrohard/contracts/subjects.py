"""The subject scheme of the event log.

    ev.<tenant>.<aggregate_type>.<aggregate_id>.<EventType>

Tenant first so that a tenant's whole history is one filter (`ev.<tenant>.>`), which also
makes per-tenant NATS permissions and retention possible. Event type last so consumers
filter by type with `ev.*.task.*.TaskSubmitted` without decoding anything. Platform-level
aggregates (nodes, fleet) live under the reserved tenant token `_platform`.
"""

from __future__ import annotations

import re

from macrohard.contracts.envelope import Envelope

EVENTS_STREAM = "EVENTS"
EVENT_PREFIX = "ev"
DLQ_STREAM = "DLQ"
# The gateway replicas' shared claims on Idempotency-Keys in flight (JetStream KV): a retry
# that reaches another replica while the first request is being stored is told 409.
SUBMISSION_CLAIMS_BUCKET = "task-submissions"
DLQ_PREFIX = "dlq"
PLATFORM_TENANT = "_platform"

# A token may not contain NATS wildcards, dots or whitespace; we allow a safe ASCII set.
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


class InvalidSubjectToken(ValueError):
    """A tenant, aggregate or id that cannot be a subject token."""

    def __init__(self, what: str, value: str) -> None:
        super().__init__(f"{what} {value!r} is not a valid subject token ([A-Za-z0-9_-]{{1,128}})")
        self.what = what
        self.value = value


def check_token(what: str, value: str) -> str:
    if not _TOKEN.match(value):
        raise InvalidSubjectToken(what, value)
    return value


def event_subject(tenant: str, aggregate_type: str, aggregate_id: str, event_type: str) -> str:
    check_token("tenant", tenant)
    check_token("aggregate type", aggregate_type)
    check_token("aggregate id", aggregate_id)
    check_token("event type", event_type)
    return f"{EVENT_PREFIX}.{tenant}.{aggregate_type}.{aggregate_id}.{event_type}"


def subject_of(env: Envelope) -> str:
    return event_subject(env.tenant, env.aggregate_type, env.aggregate_id, env.type)


def aggregate_filter(tenant: str, aggregate_type: str, aggregate_id: str) -> str:
    """The wildcard subject covering one aggregate instance's whole history."""
    check_token("tenant", tenant)
    check_token("aggregate type", aggregate_type)
    check_token("aggregate id", aggregate_id)
    return f"{EVENT_PREFIX}.{tenant}.{aggregate_type}.{aggregate_id}.>"


def type_filter(event_type: str, *, aggregate_type: str = "*", tenant: str = "*") -> str:
    """Every event of one type, e.g. `ev.*.task.*.TaskSubmitted`."""
    return f"{EVENT_PREFIX}.{tenant}.{aggregate_type}.*.{event_type}"


def parse_subject(subject: str) -> tuple[str, str, str, str]:
    """(tenant, aggregate_type, aggregate_id, event_type) of an event subject."""
    parts = subject.split(".")
    if len(parts) != 5 or parts[0] != EVENT_PREFIX:
        raise ValueError(f"not an event subject: {subject!r}")
    return parts[1], parts[2], parts[3], parts[4]


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether `subject` falls under `pattern`, NATS's way (`*` one token, `>` the rest)."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def dlq_subject(consumer: str, sequence: int) -> str:
    """Where a poisoned message goes: one subject per consumer and original sequence."""
    return f"{DLQ_PREFIX}.{check_token('consumer', consumer)}.{sequence}"


# Core NATS: an operator's `mh dlq retry` reaches a running replica of the failed consumer.
DLQ_RETRY_PREFIX = "mh.dlq.retry"


def dlq_retry_subject(consumer: str) -> str:
    """Where a consumer's replicas accept operator retries of its dead letters."""
    return f"{DLQ_RETRY_PREFIX}.{check_token('consumer', consumer)}"

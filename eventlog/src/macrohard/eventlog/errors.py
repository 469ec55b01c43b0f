"""Typed errors of the kernel: each carries what a person needs to act on it."""

from __future__ import annotations


class EventLogError(Exception):
    """Base of every eventlog error."""


class ConcurrencyConflict(EventLogError):
    """Someone else appended to the aggregate after the version this writer read."""

    def __init__(self, aggregate: str, expected_version: int, actual_version: int | None) -> None:
        super().__init__(
            f"concurrency conflict on {aggregate}: expected version {expected_version}, "
            f"log is at {actual_version if actual_version is not None else 'unknown'}"
        )
        self.aggregate = aggregate
        self.expected_version = expected_version
        self.actual_version = actual_version


class MixedAggregates(EventLogError):
    """One append may only write to one aggregate: that is the consistency boundary."""

    def __init__(self, aggregates: set[str]) -> None:
        super().__init__(f"one append covers one aggregate, got {sorted(aggregates)}")
        self.aggregates = aggregates


class AppendFailed(EventLogError):
    """JetStream refused the append for a reason other than a version conflict."""

    def __init__(self, aggregate: str, code: int | None, description: str) -> None:
        super().__init__(f"append to {aggregate} failed: [{code}] {description}")
        self.aggregate = aggregate
        self.code = code
        self.description = description


class EventNotFound(EventLogError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no event {ref} in the log")
        self.ref = ref


class LogUnavailable(EventLogError):
    """Not connected to NATS: nothing was appended, and nothing will be later.

    Refused at once rather than buffered by the client until it reconnects: a caller told
    "failed" (an HTTP client answered 503) must be able to trust that no event lands later.
    """

    def __init__(self, aggregate: str, status: str) -> None:
        super().__init__(f"append to {aggregate} refused: the event log is unreachable ({status})")
        self.aggregate = aggregate

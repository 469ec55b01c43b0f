"""The kernel every service uses: event store, consumers, projections, service runtime."""

from macrohard.eventlog.consumer import ConsumerSpec, EventHandler
from macrohard.eventlog.errors import (
    AppendFailed,
    ConcurrencyConflict,
    EventLogError,
    EventNotFound,
    MixedAggregates,
)
from macrohard.eventlog.projection import Projection, ProjectionRunner
from macrohard.eventlog.service import Service, ServiceConfig, run_service
from macrohard.eventlog.store import AppendResult, EventStore, Loaded
from macrohard.eventlog.streams import ensure_streams

__all__ = [
    "AppendFailed",
    "AppendResult",
    "ConcurrencyConflict",
    "ConsumerSpec",
    "EventHandler",
    "EventLogError",
    "EventNotFound",
    "EventStore",
    "Loaded",
    "MixedAggregates",
    "Projection",
    "ProjectionRunner",
    "Service",
    "ServiceConfig",
    "ensure_streams",
    "run_service",
]

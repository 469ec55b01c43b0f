"""The kernel every service uses: event store, consumers, projections, service runtime.

Names are imported lazily: `from macrohard.eventlog.store import EventStore` must not pay
for FastStream (imported by the service runtime), which costs over a second of start-up
in every short-lived `mh` command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AppendFailed": "errors",
    "ConcurrencyConflict": "errors",
    "EventLogError": "errors",
    "EventNotFound": "errors",
    "LogUnavailable": "errors",
    "MixedAggregates": "errors",
    "ConsumerSpec": "consumer",
    "EventHandler": "consumer",
    "Projection": "projection",
    "ProjectionRunner": "projection",
    "Service": "service",
    "ServiceConfig": "service",
    "run_service": "service",
    "AppendResult": "store",
    "EventStore": "store",
    "Loaded": "store",
    "ensure_streams": "streams",
    "ProvenanceError": "provenance",
    "disagreement": "provenance",
}

if TYPE_CHECKING:
    from macrohard.eventlog.consumer import ConsumerSpec, EventHandler
    from macrohard.eventlog.errors import (
        AppendFailed,
        ConcurrencyConflict,
        EventLogError,
        EventNotFound,
        LogUnavailable,
        MixedAggregates,
    )
    from macrohard.eventlog.projection import Projection, ProjectionRunner
    from macrohard.eventlog.provenance import ProvenanceError, disagreement
    from macrohard.eventlog.service import Service, ServiceConfig, run_service
    from macrohard.eventlog.store import AppendResult, EventStore, Loaded
    from macrohard.eventlog.streams import ensure_streams


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'macrohard.eventlog' has no attribute {name!r}")
    return getattr(importlib.import_module(f"macrohard.eventlog.{module}"), name)


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
    "LogUnavailable",
    "MixedAggregates",
    "Projection",
    "ProjectionRunner",
    "ProvenanceError",
    "Service",
    "ServiceConfig",
    "disagreement",
    "ensure_streams",
    "run_service",
]

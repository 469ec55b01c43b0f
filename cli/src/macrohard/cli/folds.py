"""How `mh state` folds an aggregate: a generic fold for every type, and the registry where a
service names its own.

The generic fold needs no knowledge of any aggregate: the merged latest value of every
payload field, and the latest payload per event type. That answers most "what did the
system believe at sequence N" questions. Where a service has a real fold (its domain's
`evolve`), it adds one line to FOLDS naming an object with `initial()`, `evolve(state,
envelope)` and `to_json(state)`; the name is imported only when used, so `mh` does not load
every service's domain at start-up.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from macrohard.cli.logview import LogEvent
from macrohard.contracts.envelope import Envelope

# aggregate type -> "module:attribute" of an AggregateFold. One line per service.
FOLDS: dict[str, str] = {}


class AggregateFold(Protocol):
    def initial(self) -> Any: ...

    def evolve(self, state: Any, envelope: Envelope) -> Any: ...

    def to_json(self, state: Any) -> Any: ...


def fold_for(aggregate_type: str) -> AggregateFold | None:
    target = FOLDS.get(aggregate_type)
    if target is None:
        return None
    module, _, attr = target.partition(":")
    fold: AggregateFold = getattr(importlib.import_module(module), attr)
    return fold


@dataclass
class GenericState:
    """What any aggregate looks like folded without domain knowledge."""

    version: int = 0
    events: int = 0
    last_type: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    by_type: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "events": self.events,
            "last_type": self.last_type,
            "fields": self.fields,
            "by_type": self.by_type,
        }


def generic_fold(events: list[LogEvent]) -> GenericState:
    """Later events overwrite earlier fields: the state is the last word on each field."""
    state = GenericState()
    for e in events:
        state.version = e.sequence
        state.events += 1
        state.last_type = e.type
        state.fields.update(e.payload)
        state.by_type[e.type] = e.payload
    return state

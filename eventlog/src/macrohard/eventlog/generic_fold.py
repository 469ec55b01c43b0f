"""An aggregate folded without knowing it: what `mh state` shows for any aggregate type.

The merged latest value of every payload field, and the latest payload per event type.
That answers most "what did the system believe at sequence N" questions without loading
any service's domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from macrohard.eventlog.logview import LogEvent


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

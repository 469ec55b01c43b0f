"""Upcasters turn an older payload shape into the next one, on read.

The log is never rewritten: an event stored as version 1 stays version 1 forever, and every
reader sees it as the current version. Each upcaster lifts exactly one version step, so a
chain v1 -> v2 -> v3 composes and each step is tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

JsonObject = dict[str, Any]
Upcaster = Callable[[JsonObject], JsonObject]


class MissingUpcaster(LookupError):
    def __init__(self, event_type: str, version: int) -> None:
        super().__init__(f"no upcaster for {event_type} from schema version {version}")
        self.event_type = event_type
        self.version = version


def upcast(
    upcasters: Mapping[tuple[str, int], Upcaster],
    event_type: str,
    payload: JsonObject,
    version: int,
    target: int,
) -> JsonObject:
    """Apply the chain of single-step upcasters from `version` up to `target`."""
    while version < target:
        step = upcasters.get((event_type, version))
        if step is None:
            raise MissingUpcaster(event_type, version)
        payload = step(payload)
        version += 1
    return payload

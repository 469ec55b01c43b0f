"""JSON Schema of every contract, written by `mh contracts schema` and kept in step by a test."""

from __future__ import annotations

from typing import Any

import msgspec

from macrohard.contracts import ALL_EVENTS
from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageObservation
from macrohard.contracts.envelope import RawEnvelope

# Read models and commands that cross the bus but are not events.
_OTHER_SHAPES: tuple[type[msgspec.Struct], ...] = (RawEnvelope, Intent, PageObservation)


def contract_schema() -> dict[str, Any]:
    """One document: `$defs` holds every shape; `events` maps type name -> schema version."""
    shapes: list[Any] = [*ALL_EVENTS, *_OTHER_SHAPES]
    _, defs = msgspec.json.schema_components(shapes, ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Macrohard contracts",
        "events": {cls.__name__: cls.schema_version for cls in ALL_EVENTS},
        "$defs": dict(sorted(defs.items())),
    }


def contract_schema_json() -> bytes:
    return msgspec.json.format(msgspec.json.encode(contract_schema()), indent=2) + b"\n"

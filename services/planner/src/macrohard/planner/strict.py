"""A task's output_schema as a strict response format for chat-completions endpoints.

Strict structured outputs (`response_format: {"type": "json_schema", "json_schema":
{"strict": true, ...}}`) accept a subset of JSON Schema: every object lists all of its
properties as required and forbids others. A tenant's schema need not be written that way,
so it is rewritten: a property that was optional becomes required but nullable, and the
model's answer is read back by dropping those nulls again (`from_strict`), which gives a
value the original schema judges. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from macrohard.contracts.agent import ActionKind

JsonSchema = Mapping[str, Any]
ANSWER_NAME = "next_action"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def to_strict(schema: JsonSchema) -> dict[str, Any]:
    """`schema` with every object closed and every property required (optional ones
    nullable), recursively through properties, items and anyOf."""
    out = dict(schema)
    props = schema.get("properties")
    if isinstance(props, Mapping):
        required = set(schema.get("required", []))
        out["properties"] = {
            name: to_strict(sub) if name in required else _nullable(to_strict(sub))
            for name, sub in props.items()
        }
        out["required"] = list(props)
        out["additionalProperties"] = False
    items = schema.get("items")
    if isinstance(items, Mapping):
        out["items"] = to_strict(items)
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            out[key] = [to_strict(s) for s in schema[key]]
    return out


def from_strict(value: Any, schema: JsonSchema) -> Any:
    """A strict answer read back against the original schema: the nulls that stand for an
    optional property that was absent are dropped."""
    props = schema.get("properties")
    if isinstance(value, dict) and isinstance(props, Mapping):
        required = set(schema.get("required", []))
        return {
            k: from_strict(v, props.get(k, {}))
            for k, v in value.items()
            if not (v is None and k not in required)
        }
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, Mapping):
        return [from_strict(v, items) for v in value]
    return value


def answer_format(output_schema: JsonSchema) -> dict[str, Any]:
    """The `response_format` of a step's request: the answer object (ChatAnswer's fields,
    all present) with `data` being the task's schema in strict form, or null."""
    text = {"type": ["string", "null"]}
    number = {"type": ["integer", "null"]}
    properties: dict[str, Any] = {
        "action": {"type": "string", "enum": list(get_args(ActionKind))},
        "element": number,
        "text": text,
        "url": text,
        "keys": text,
        "values": {"type": "array", "items": {"type": "string"}},
        "target_element": number,
        "x": number,
        "y": number,
        "hold_ms": {"type": "integer"},
        "reason": {"type": "string"},
        "data": _nullable(to_strict(output_schema)),
    }
    answer = {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": ANSWER_NAME, "strict": True, "schema": answer},
    }

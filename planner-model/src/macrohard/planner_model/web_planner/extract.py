"""Extraction: the values a JSON Schema asks for, read from one page observation.

The offline model's way of turning a page into a structured result, with no language model:
- an array of objects comes from a table: the schema's property names (or `title`s) are
  matched to the column headers, and each row under them becomes one object;
- an array of strings comes from list items;
- an object's scalar property comes from a labelled value: "Label: value" in one text, or
  a label/heading followed by the next text element;
- values are coerced to the schema's type (number, integer, boolean, string).
Rows and cells are placed by their boxes (same top edge = same row; a cell belongs to the
header it sits under), so empty cells, which the observer leaves out, shift nothing.
Pure: the caller validates the result against the schema (an invalid one fails the task).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from macrohard.contracts.browser import PageElement, PageObservation

JsonSchema = Mapping[str, Any]
_NON_WORD = re.compile(r"[^a-z0-9]+")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def _norm(text: str) -> str:
    return _NON_WORD.sub("", text.lower())


def _names(name: str, schema: JsonSchema) -> set[str]:
    """The ways a property may be shown on a page: its name and its title, normalised."""
    out = {_norm(name), _norm(name.replace("_", " "))}
    if isinstance(schema.get("title"), str):
        out.add(_norm(schema["title"]))
    return out - {""}


def _coerce(text: str, schema: JsonSchema) -> Any:
    kind = schema.get("type")
    text = text.strip()
    if kind in ("number", "integer"):
        found = _NUMBER.search(text)
        if found is None:
            return text  # left as found: validation names the mismatch
        value = float(found.group().replace(",", ""))
        return int(value) if kind == "integer" and value.is_integer() else value
    if kind == "boolean":
        return text.lower() in ("yes", "true", "on", "1", "✓", "checked")
    return text


def _shown(e: PageElement) -> str:
    return e.text or e.name or (e.value or "")


def _table(elements: Sequence[PageElement], item: JsonSchema) -> list[dict[str, Any]] | None:
    props: Mapping[str, JsonSchema] = item.get("properties", {})
    headers = [e for e in elements if e.role == "columnheader" and e.box is not None]
    columns: dict[str, PageElement] = {}
    for name, sub in props.items():
        wanted = _names(name, sub)
        match = next((h for h in headers if _norm(_shown(h)) in wanted), None)
        if match is not None:
            columns[name] = match
    if not columns:
        return None
    header_bottom = max(h.box.y + h.box.h for h in columns.values() if h.box)
    rows: dict[int, dict[str, Any]] = {}
    for cell in elements:
        if cell.role != "cell" or cell.box is None or cell.box.y < header_bottom - 1:
            continue
        centre = cell.box.x + cell.box.w / 2
        for name, header in columns.items():
            hb = header.box
            if hb is not None and hb.x <= centre <= hb.x + hb.w:
                rows.setdefault(cell.box.y, {})[name] = _coerce(_shown(cell), props[name])
    return [rows[y] for y in sorted(rows)]


def _labelled(elements: Sequence[PageElement], name: str, schema: JsonSchema) -> Any:
    wanted = _names(name, schema)
    for i, e in enumerate(elements):
        text = _shown(e)
        label, sep, rest = text.partition(":")
        if sep and _norm(label) in wanted and rest.strip():
            return _coerce(rest, schema)
        if _norm(text) in wanted and e.role in ("label", "heading", "columnheader", "text",
                                                "paragraph", "term"):  # fmt: skip
            following = next((x for x in elements[i + 1 :] if _shown(x)), None)
            if following is not None:
                return _coerce(_shown(following), schema)
    return None


def extract(schema: JsonSchema, observation: PageObservation) -> Any:
    """The value `schema` describes, read from the page (None where nothing matched)."""
    elements = observation.elements
    kind = schema.get("type")
    if kind == "array":
        item: JsonSchema = schema.get("items", {})
        if item.get("type") == "object":
            return _table(elements, item) or []
        return [_coerce(_shown(e), item) for e in elements if e.role == "listitem" and _shown(e)]
    if kind == "object":
        out: dict[str, Any] = {}
        for name, sub in schema.get("properties", {}).items():
            value = (
                extract(sub, observation)
                if sub.get("type") in ("array", "object")
                else (_labelled(elements, name, sub))
            )
            if value is not None:
                out[name] = value
        return out
    return None


def _found(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_found(v) for v in value.values())
    if isinstance(value, list):
        return bool(value)
    return value is not None and value != ""


def holds(schema: JsonSchema, observation: PageObservation) -> bool:
    """Whether the page shows any of what `schema` asks for (a matching table header with
    rows, list items, a labelled value): the offline model extracts only on such a page."""
    return _found(extract(schema, observation))

"""An event's trace: every event of its request (correlation id) as a causation tree (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class TraceRow:
    seq: int
    event_id: str
    type: str
    tenant: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None
    depth: int = 0
    offset_ms: float = 0.0

    @classmethod
    def of(cls, row: asyncpg.Record) -> TraceRow:
        return cls(**{k: row[k] for k in (
            "seq", "event_id", "type", "tenant", "aggregate_type", "aggregate_id",
            "occurred_at", "correlation_id", "causation_id")})  # fmt: skip


def trace_rows(rows: list[TraceRow]) -> list[TraceRow]:
    """Depth-first by causation (children in log order), each with its depth and its time
    since the request's first event. An event whose cause is outside the set is a root."""
    by_id = {r.event_id: r for r in rows}
    children: dict[str | None, list[TraceRow]] = {}
    for r in sorted(rows, key=lambda r: r.seq):
        own_cause = r.causation_id in by_id and r.causation_id != r.event_id
        parent = r.causation_id if own_cause else None
        children.setdefault(parent, []).append(r)
    start = min((r.occurred_at for r in rows), default=None)
    out: list[TraceRow] = []
    stack = [(r, 0) for r in reversed(children.get(None, []))]
    while stack:
        row, depth = stack.pop()
        offset = (row.occurred_at - start).total_seconds() * 1000 if start else 0.0
        out.append(TraceRow(**{**_fields(row), "depth": depth, "offset_ms": offset}))
        stack.extend((c, depth + 1) for c in reversed(children.get(row.event_id, [])))
    return out


def _fields(row: TraceRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in TraceRow.__slots__}

"""`mh trace <correlation-id>`: the tree of events one request caused, across services.

Every event carries the request's correlation id and the id of the event that caused it,
so the tree needs nothing but the envelopes: a node's children are the events whose
causation id is its id. Timings are from `occurred_at` (when the emitting service decided),
relative to the root and to the cause, which is where a slow hop shows up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any

from macrohard.cli import readout
from macrohard.cli.platform import add_platform_args
from macrohard.contracts import REGISTRY
from macrohard.eventlog import logview
from macrohard.eventlog.logview import LogEvent

# Who emits an event, by contracts module, with the exceptions named (DESIGN.md's table).
_MODULE_EMITTER = {
    "tenancy": "gateway",
    "tasks": "planner",
    "agent": "planner",
    "browser": "actuator",
    "fleet": "node-registry",
    "billing": "billing",
}
_TYPE_EMITTER = {
    "TaskSubmitted": "gateway",
    "TaskCancelRequested": "gateway",
    "WebhookAttempted": "gateway",
    "NodeRegistered": "node-agent",
    "NodeParked": "node-agent",
    "NodeUnparked": "node-agent",
    "NodeChargingChanged": "node-agent",
    "NodeBatteryChanged": "node-agent",
    "NodeThrottled": "node-agent",
}


def emitter_of(event_type: str) -> str:
    if event_type in _TYPE_EMITTER:
        return _TYPE_EMITTER[event_type]
    cls = REGISTRY.types.get(event_type)
    if cls is None:
        return "?"
    return _MODULE_EMITTER.get(cls.__module__.rsplit(".", 1)[-1], "?")


@dataclass
class TraceNode:
    event: LogEvent
    since_root_ms: float
    since_cause_ms: float | None
    children: list[TraceNode] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        e = self.event
        return {
            "sequence": e.sequence,
            "event_id": e.id,
            "type": e.type,
            "service": emitter_of(e.type),
            "aggregate": f"{e.envelope.get('aggregate_type')}/{e.envelope.get('aggregate_id')}",
            "occurred_at": e.occurred_at.isoformat(),
            "since_root_ms": round(self.since_root_ms, 3),
            "since_cause_ms": None
            if self.since_cause_ms is None
            else round(self.since_cause_ms, 3),
            "children": [c.to_json() for c in self.children],
        }


def build_tree(events: list[LogEvent]) -> list[TraceNode]:
    """Roots (events whose cause is outside the set) with their descendants, in log order."""
    events = sorted(events, key=lambda e: e.sequence)
    if not events:
        return []
    start = min(e.occurred_at for e in events)
    by_id = {e.id: e for e in events}
    nodes: dict[str, TraceNode] = {}
    roots: list[TraceNode] = []
    for e in events:
        cause = by_id.get(str(e.envelope.get("causation_id") or ""))
        node = TraceNode(
            e,
            (e.occurred_at - start).total_seconds() * 1000,
            None if cause is None else (e.occurred_at - cause.occurred_at).total_seconds() * 1000,
        )
        nodes[e.id] = node
    for e in events:
        cause_id = str(e.envelope.get("causation_id") or "")
        parent = nodes.get(cause_id) if cause_id != e.id else None
        (parent.children if parent is not None else roots).append(nodes[e.id])
    return roots


def _label(node: TraceNode) -> str:
    e = node.event
    hop = "" if node.since_cause_ms is None else f" (+{node.since_cause_ms:.1f} ms after cause)"
    agg = f"{e.envelope.get('aggregate_type')}/{e.envelope.get('aggregate_id')}"
    fields = readout.key_fields(e.payload, width=60)
    return (
        f"#{e.sequence} {e.type} [{emitter_of(e.type)}] {agg} "
        f"t+{node.since_root_ms:.1f} ms{hop} {fields}".rstrip()
    )


def render_text(roots: list[TraceNode]) -> list[str]:
    lines: list[str] = []

    def walk(node: TraceNode, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└── " if last else "├── ")
        lines.append(prefix + branch + _label(node))
        child_prefix = prefix if top else prefix + ("    " if last else "│   ")
        for i, child in enumerate(node.children):
            walk(child, child_prefix, i == len(node.children) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    return lines


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("trace", help="the tree of events one request caused, with timings")
    p.add_argument("correlation_id")
    p.add_argument("--json", action="store_true")
    add_platform_args(p)
    p.set_defaults(func=lambda args: asyncio.run(trace(args)))


async def trace(args: argparse.Namespace) -> int:
    async with readout.connect(args, database=True) as session:
        events = await logview.find_by_correlation(session, args.correlation_id)
    if not events:
        print(f"no events with correlation id {args.correlation_id}", file=sys.stderr)
        return 1
    roots = build_tree(events)
    if args.json:
        readout.print_json(
            {
                "correlation_id": args.correlation_id,
                "events": len(events),
                "notes": session.notes,
                "roots": [r.to_json() for r in roots],
            }
        )
        return 0
    span = max(e.occurred_at for e in events) - min(e.occurred_at for e in events)
    header = (
        f"trace {args.correlation_id}: {len(events)} events, "
        f"{span.total_seconds() * 1000:.1f} ms, services "
        + ", ".join(sorted({emitter_of(e.type) for e in events}))
    )
    if readout.wants_rich(args):
        from rich.console import Console
        from rich.tree import Tree

        def add(tree: Tree, node: TraceNode) -> None:
            branch = tree.add(_label(node).replace("[", "\\["))
            for child in node.children:
                add(branch, child)

        top = Tree(f"[bold]{header}[/]")
        for root in roots:
            add(top, root)
        Console().print(top)
    else:
        print(header)
        for line in render_text(roots):
            print(line)
    return 0

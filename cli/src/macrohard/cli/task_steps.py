"""A finished task's recorded steps, rebuilt from its events (pure: no I/O).

A step is what the planner decided (IntentEmitted), what the actuator did (ActionExecuted,
linked by `intent_event_id`), and the page it saw afterwards (PageObserved of that step).
What the agent *saw* when deciding is the last observation before the intent in log
order: the log, not step numbers, is the truth about what was known when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from macrohard.eventlog.logview import LogEvent

OUTCOMES = ("TaskCompleted", "TaskFailed", "TaskCancelled")


@dataclass
class Step:
    number: int
    intent_event: LogEvent
    seen: dict[str, Any] | None = None
    action: dict[str, Any] | None = None
    observed: dict[str, Any] | None = None
    inference: dict[str, Any] | None = None

    @property
    def intent(self) -> dict[str, Any]:
        value = self.intent_event.payload.get("intent")
        return value if isinstance(value, dict) else {}

    def target(self) -> dict[str, Any] | None:
        """The element of the seen page the intent points at (by observation index)."""
        index = self.intent.get("element")
        if index is None or self.seen is None:
            return None
        return next((el for el in self.seen.get("elements", []) if el.get("id") == index), None)


@dataclass
class TaskRecord:
    task_id: str
    submitted: dict[str, Any] | None = None
    started_at: datetime | None = None
    outcome: LogEvent | None = None
    first_observation: dict[str, Any] | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.outcome is not None


def task_record(task_id: str, events: list[LogEvent]) -> TaskRecord:
    record = TaskRecord(task_id)
    mine = sorted(
        (e for e in events if e.payload.get("task_id") == task_id), key=lambda e: e.sequence
    )
    by_intent: dict[str, Step] = {}
    by_number: dict[int, Step] = {}
    last_seen: dict[str, Any] | None = None
    for e in mine:
        p = e.payload
        if record.started_at is None:
            record.started_at = e.occurred_at
        if e.type == "TaskSubmitted":
            record.submitted = p
        elif e.type in OUTCOMES:
            record.outcome = e
        elif e.type == "IntentEmitted":
            step = Step(int(p.get("step", len(record.steps) + 1)), e, seen=last_seen)
            record.steps.append(step)
            by_intent[e.id] = step
            by_number[step.number] = step
        elif e.type == "ActionExecuted":
            step_or_none = by_intent.get(str(p.get("intent_event_id"))) or by_number.get(
                int(p.get("step", -1))
            )
            if step_or_none is not None:
                step_or_none.action = p
        elif e.type == "PageObserved":
            observation = p.get("observation")
            last_seen = observation if isinstance(observation, dict) else None
            target = by_number.get(int(p.get("step", -1)))
            if target is not None:
                target.observed = last_seen
            elif record.first_observation is None:
                record.first_observation = last_seen
        elif e.type == "InferenceCompleted":
            target = by_number.get(int(p.get("step", -1)))
            if target is not None:
                target.inference = p
    return record


def describe_page(observation: dict[str, Any] | None) -> str:
    if observation is None:
        return "(nothing observed)"
    n = len(observation.get("elements", []))
    return f'{observation.get("url", "?")} "{observation.get("title", "")}" ({n} elements)'


def describe_element(element: dict[str, Any] | None) -> str:
    if element is None:
        return ""
    label = element.get("name") or element.get("text") or ""
    return f' [{element.get("role", "?")} "{label}"]'


def describe_intent(step: Step) -> str:
    i = step.intent
    parts = [str(i.get("action", "?"))]
    if i.get("element") is not None:
        parts.append(f"element {i['element']}{describe_element(step.target())}")
    for key in ("url", "text", "keys"):
        if i.get(key):
            parts.append(f"{key}={i[key]!r}")
    if i.get("values"):
        parts.append(f"values={i['values']!r}")
    reason = f" — {i['reason']}" if i.get("reason") else ""
    return " ".join(parts) + reason


def describe_action(step: Step) -> str:
    a = step.action
    if a is None:
        return "(no ActionExecuted recorded)"
    result = "ok" if a.get("ok") else f"FAILED: {a.get('error', '')}"
    return f"{a.get('action', '?')} {result} in {float(a.get('duration_ms', 0.0)):.0f} ms"

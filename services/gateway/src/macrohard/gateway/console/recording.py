"""A task as a recording: each step's intent, chosen element, outcome, model call and the
screenshot the agent saw (pure: folds the task's envelopes, no I/O).

The API's `TaskView` is a summary (it keeps counts, not the model calls of each step); the
console shows a step the way a person debugs it, so it folds the same two aggregates
(`task/<id>`, `browser/<id>`) with more detail kept. "Saw" is the page observed *before* the
intent in log order: that is what the planner decided on. The page after the action is the
next step's "saw", and the last one is the task's final page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from macrohard.contracts.agent import InferenceCompleted, Intent, IntentEmitted
from macrohard.contracts.browser import ActionExecuted, PageObservation, PageObserved
from macrohard.contracts.envelope import Envelope


@dataclass(frozen=True, slots=True)
class ModelCall:
    model: str
    node_id: str
    compute_ms: float


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    title: str
    elements: int
    screenshot: str | None

    @classmethod
    def of(cls, o: PageObservation) -> Page:
        return cls(o.url, o.title, len(o.elements), o.screenshot_sha256)


@dataclass(slots=True)
class RecordedStep:
    number: int
    intent: Intent
    backend: str
    element: str  # the chosen element as the planner named it ("" when none)
    saw: Page | None
    seq: int  # the IntentEmitted's stream sequence (links to the event and its trace)
    ok: bool | None = None  # None: not carried out yet
    error: str = ""
    blocked: bool = False
    duration_ms: float = 0.0
    after: Page | None = None
    calls: list[ModelCall] = field(default_factory=list)


@dataclass(slots=True)
class Recording:
    steps: list[RecordedStep] = field(default_factory=list)
    final_page: Page | None = None

    def screenshots(self) -> set[str]:
        """Every screenshot this task's events name: what its viewer may fetch."""
        pages = [s.saw for s in self.steps] + [s.after for s in self.steps] + [self.final_page]
        return {p.screenshot for p in pages if p is not None and p.screenshot}


def record(events: list[tuple[int, Envelope]]) -> Recording:
    """Fold (stream sequence, envelope) pairs of one task, in any order, into its recording."""
    rec = Recording()
    by_number: dict[int, RecordedStep] = {}
    seen: Page | None = None
    pending_calls: dict[int, list[ModelCall]] = {}
    for seq, env in sorted(events, key=lambda pair: pair[0]):
        p = env.payload
        if isinstance(p, IntentEmitted):
            step = RecordedStep(
                number=p.step,
                intent=p.intent,
                backend=p.backend,
                element=p.element_label,
                saw=seen,
                seq=seq,
                calls=pending_calls.pop(p.step, []),
            )
            rec.steps.append(step)
            by_number[p.step] = step
        elif isinstance(p, InferenceCompleted):
            call = ModelCall(p.model, p.node_id, p.compute_ms)
            if p.step in by_number:
                by_number[p.step].calls.append(call)
            else:  # the call that decided the step is recorded before its intent
                pending_calls.setdefault(p.step, []).append(call)
        elif isinstance(p, ActionExecuted):
            target = by_number.get(p.step)
            if target is not None:
                target.ok, target.error = p.ok, p.error
                target.blocked, target.duration_ms = p.blocked, p.duration_ms
        elif isinstance(p, PageObserved):
            seen = Page.of(p.observation)
            target = by_number.get(p.step)
            if target is not None:
                target.after = seen
            rec.final_page = seen
    return rec

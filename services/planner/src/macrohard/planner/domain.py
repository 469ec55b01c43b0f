"""The task run as a pure fold of its events, and the planner's decisions on it (no I/O).

State comes only from the task's own aggregate, so a run replays from the log: what was
asked (TaskSubmitted), every decision (IntentEmitted, with the outcome of the step before),
and how it ended (TaskCompleted / TaskFailed / TaskCancelled).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from macrohard.contracts.agent import Intent, IntentEmitted, LeaseRequested
from macrohard.contracts.approvals import ApprovalPolicy, TaskApproved, TaskNeedsApproval
from macrohard.contracts.envelope import Envelope, Event
from macrohard.contracts.tasks import (
    TaskCancelled,
    TaskCancelRequested,
    TaskCompleted,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
)

Status = Literal["new", "running", "awaiting_approval", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
PLANNER_MODEL = "planner"
TERMINAL_EVENTS = (TaskCompleted, TaskFailed, TaskCancelled)


@dataclass(frozen=True, slots=True)
class PastIntent:
    step: int
    intent: Intent
    label: str = ""
    ok: bool | None = None  # filled in when the next decision records how this one went
    error: str = ""
    page_url: str = ""
    replayed: bool = False  # from the tenant's playbook rather than the model
    playbook_seq: int = 0  # the recording (RunLearned's stream sequence) it was replayed from


@dataclass(frozen=True, slots=True)
class TaskState:
    task_id: str = ""
    goal: str = ""
    start_url: str = ""
    max_steps: int = 30
    car_wait_s: float = 300.0
    status: Status = "new"
    backend: str = ""
    intents: tuple[PastIntent, ...] = ()
    cancel_requested: bool = False
    reason: str = ""
    # Approvals (approvals.py): the policy the run started under, and the step held for one.
    approval: ApprovalPolicy | None = None
    pending: TaskNeedsApproval | None = None
    approved_step: int | None = None
    output_schema: dict[str, Any] | None = None  # results.py: what the run must end with

    @property
    def step(self) -> int:
        """The step of the last intent (-1 before the first)."""
        return self.intents[-1].step if self.intents else -1

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def recording(self) -> int:
        """The playbook recording this run replays (its stream sequence; 0: none yet)."""
        return next((p.playbook_seq for p in self.intents if p.playbook_seq), 0)


def evolve(state: TaskState, env: Envelope) -> TaskState:
    """Fold one event of the task aggregate. Unknown events leave the state as it is."""
    ev = env.payload
    match ev:
        case TaskSubmitted():
            return replace(
                state,
                task_id=ev.task_id,
                goal=ev.goal,
                start_url=ev.start_url,
                max_steps=ev.max_steps,
                car_wait_s=ev.car_wait_s,
                output_schema=ev.output_schema,
            )
        case TaskStarted():
            return replace(state, status="running", backend=ev.backend, approval=ev.approval)
        case TaskNeedsApproval() if state.status == "running":
            return replace(state, status="awaiting_approval", pending=ev)
        case TaskApproved() if state.status == "awaiting_approval":
            return replace(state, status="running", approved_step=ev.step)
        case IntentEmitted():
            past = state.intents
            if past and ev.previous_ok is not None:
                last = past[-1]
                past = (*past[:-1], replace(last, ok=ev.previous_ok, error=ev.previous_error))
            entry = PastIntent(
                step=ev.step,
                intent=ev.intent,
                label=ev.element_label,
                page_url=ev.page_url,
                replayed=ev.replayed,
                playbook_seq=ev.playbook_seq,
            )
            return replace(state, intents=(*past, entry), pending=None)
        case TaskCancelRequested():
            return replace(state, cancel_requested=True)
        case TaskCompleted():
            return replace(state, status="completed", reason=ev.result)
        case TaskFailed():
            return replace(state, status="failed", reason=ev.reason)
        case TaskCancelled():
            return replace(state, status="cancelled", reason=ev.reason)
    return state


# ---- decisions -------------------------------------------------------------------------


def start(
    state: TaskState,
    submitted: TaskSubmitted,
    backend: str,
    approval: ApprovalPolicy | None = None,
) -> list[Event]:
    """A new task: record the start, ask for a node, and open the start page (step 0)."""
    if state.status != "new":
        return []
    events: list[Event] = [
        TaskStarted(task_id=submitted.task_id, backend=backend, approval=approval)
    ]
    if backend == "triton":
        events.append(LeaseRequested(task_id=submitted.task_id, model=PLANNER_MODEL))
    events.append(
        IntentEmitted(
            task_id=submitted.task_id,
            step=0,
            intent=Intent(action="navigate", url=submitted.start_url, reason="open the start page"),
            backend=backend,
        )
    )
    return events


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask the model for step `step`."""

    step: int


@dataclass(frozen=True, slots=True)
class Stop:
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Ignore:
    why: str


Verdict = Ask | Stop | Ignore


def on_observed(state: TaskState, observed_step: int, budget_exhausted: bool) -> Verdict:
    """The page after step `observed_step` was seen: ask for the next step, stop, or ignore.
    (A page the actuator could not read is recovery.py's, once the run goes on.)"""
    if state.status != "running":
        return Ignore(f"task is {state.status}")
    if observed_step != state.step:
        return Ignore(f"observation of step {observed_step}, current step is {state.step}")
    if state.intents and state.intents[-1].intent.action in ("done", "fail"):
        return Ignore("the last intent already ended the run")
    steps = state.step + 1
    if state.cancel_requested:
        return Stop([TaskCancelled(task_id=state.task_id, steps=steps, reason="cancel requested")])
    if budget_exhausted:
        return Stop([TaskFailed(task_id=state.task_id, steps=steps, reason="budget exhausted")])
    if state.step >= state.max_steps:
        return Stop(
            [
                TaskFailed(
                    task_id=state.task_id,
                    steps=steps,
                    reason=f"max_steps ({state.max_steps}) reached",
                )
            ]
        )
    return Ask(step=state.step + 1)


def same_run_point(a: TaskState, b: TaskState) -> bool:
    """Whether a decision made on `b` still holds on `a` (metering events in between are fine)."""
    return (a.step, a.status, a.cancel_requested) == (b.step, b.status, b.cancel_requested)


def cancel(state: TaskState, reason: str) -> list[Event]:
    if state.terminal or not state.task_id:
        return []
    return [
        TaskCancelled(task_id=state.task_id, steps=state.step + 1, reason=reason or "cancelled")
    ]


def decided(
    state: TaskState,
    step: int,
    intent: Intent,
    *,
    backend: str,
    label: str,
    page_url: str,
    previous_ok: bool | None,
    previous_error: str,
    replayed: bool = False,
    playbook_seq: int = 0,
) -> list[Event]:
    """The answer (the model's, or a replayed step) as events: the intent, and the end of
    the run when it says so, with how many steps were replayed and how many the model took."""
    events: list[Event] = [
        IntentEmitted(
            task_id=state.task_id,
            step=step,
            intent=intent,
            backend=backend,
            element_label=label,
            page_url=page_url,
            previous_ok=previous_ok,
            previous_error=previous_error,
            replayed=replayed,
            playbook_seq=playbook_seq if replayed else 0,
        )
    ]
    decided_steps = [p.replayed for p in state.intents if p.step > 0] + [replayed]
    counts = {"replayed_steps": sum(decided_steps), "model_steps": decided_steps.count(False)}
    if intent.action == "done":
        events.append(
            TaskCompleted(task_id=state.task_id, steps=step, result=intent.reason, **counts)
        )
    elif intent.action == "fail":
        events.append(TaskFailed(task_id=state.task_id, steps=step, reason=intent.reason, **counts))
    return events


# ---- after the browser session was taken over ------------------------------------------

# Actions whose effect lives only in the page until something submits it: a reloaded page
# has lost them. Everything else (click, press, navigate, back) may have reached the site.
PAGE_LOCAL: frozenset[str] = frozenset(
    {
        "type", "clear", "select", "check", "uncheck", "hover", "scroll", "wait_for", "drag",
        "upload", "select_text", "set_value", "extract",
    }
)  # fmt: skip


def history_on_page(history: Sequence[PastIntent], takeover_step: int | None) -> list[PastIntent]:
    """What still holds on the page the model sees, after a takeover at `takeover_step`.

    A takeover reopens the last URL in a fresh browser: what was typed, selected or checked
    there is gone, and a step that was not done is not done. Only steps that may have reached
    the site (a click, a key press, a navigation) and succeeded still count; the model does the
    rest again, so it can never complete a form it only half refilled.
    """
    if takeover_step is None:
        return list(history)
    return [
        h
        for h in history
        if h.step > takeover_step or (h.ok is True and h.intent.action not in PAGE_LOCAL)
    ]


def unknown_effect(
    state: TaskState, step: int, outcome_unknown: bool, takeover_step: int | None
) -> Stop | None:
    """Fail the run when an action that may have reached the site was interrupted and its
    browser is gone: repeating it could do it twice, skipping it could complete falsely."""
    if not outcome_unknown or takeover_step != step:
        return None
    intent = next((h.intent for h in state.intents if h.step == step), None)
    if intent is None or intent.action in PAGE_LOCAL or intent.action in ("done", "fail"):
        return None
    reason = (
        f"step {step} ({intent.action}) was interrupted (an actuator crash, a page that stopped "
        "answering) and its browser was lost: whether it reached the site is unknown, so it "
        "was not repeated"
    )
    return Stop([TaskFailed(task_id=state.task_id, steps=step + 1, reason=reason)])

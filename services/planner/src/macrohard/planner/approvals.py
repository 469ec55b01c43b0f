"""Which decided steps need a person before they are carried out (pure, no I/O).

A step is asked about, never silently dropped: the run pauses with TaskNeedsApproval and the
tenant's answer decides. Only steps with an effect the tenant cannot take back are matched:
a click or key press on an element whose label names one of the policy's words, and a
navigation off the policy's domains. Reading, typing into a field and scrolling never are.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from macrohard.contracts.agent import Intent
from macrohard.contracts.approvals import (
    ApprovalPolicy,
    TaskApprovalDenied,
    TaskApproved,
    TaskNeedsApproval,
)
from macrohard.contracts.browser import PageElement
from macrohard.contracts.domains import host_in_allowlist
from macrohard.contracts.envelope import Event
from macrohard.contracts.tasks import TaskCancelled
from macrohard.planner.domain import TaskState, decided

# Actions that commit something on the page the element belongs to.
COMMITTING_ACTIONS = frozenset({"click", "press", "check", "uncheck", "select"})


def _label_of(element: PageElement) -> str:
    return " ".join(x for x in (element.name, element.text, element.value or "") if x)


def needs_approval(
    policy: ApprovalPolicy | None, intent: Intent, element: PageElement | None
) -> str:
    """Why this step needs approval under `policy` ('' when it does not)."""
    if policy is None:
        return ""
    if intent.action == "navigate" and policy.domains:
        host = urlsplit(intent.url or "").hostname or ""
        if not host_in_allowlist(host, policy.domains):
            return f"navigation to {host or intent.url!r} is off the approved domains"
    if intent.action in COMMITTING_ACTIONS and element is not None and policy.labels:
        label = _label_of(element)
        for word in policy.labels:
            if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", label, re.IGNORECASE):
                return f"{intent.action} on {label[:60]!r} matches the approval word {word!r}"
    return ""


def pause(
    state: TaskState,
    step: int,
    intent: Intent,
    *,
    label: str,
    page_url: str,
    why: str,
    previous_ok: bool | None,
    previous_error: str,
) -> list[Event]:
    """Hold the decided step for the tenant instead of emitting it."""
    return [
        TaskNeedsApproval(
            task_id=state.task_id,
            step=step,
            intent=intent,
            element_label=label,
            page_url=page_url,
            why=why,
            previous_ok=previous_ok,
            previous_error=previous_error,
        )
    ]


def answered(state: TaskState, answer: TaskApproved | TaskApprovalDenied) -> list[Event]:
    """The tenant's answer: emit the held step as it was decided, or end the run."""
    held = state.pending
    if held is None or held.step != answer.step or state.terminal:
        return []  # a redelivery, or an answer to a step no longer held
    if isinstance(answer, TaskApprovalDenied):
        if state.status != "awaiting_approval":
            return []
        reason = f"approval denied: {answer.reason}" if answer.reason else "approval denied"
        return [TaskCancelled(task_id=state.task_id, steps=held.step, reason=reason)]
    if state.status != "running" or state.approved_step != held.step:
        return []
    return decided(
        state,
        held.step,
        held.intent,
        backend=state.backend,
        label=held.element_label,
        page_url=held.page_url,
        previous_ok=held.previous_ok,
        previous_error=held.previous_error,
    )

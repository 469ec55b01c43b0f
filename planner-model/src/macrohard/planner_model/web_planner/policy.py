"""Decide the next intent: find the first unfinished goal step and ground it on the page.

Stateless between calls: progress is read back from the history (each intent carries the
index of the goal step it served) and from the page itself (a field already holding its
value is done), so the same request always yields the same intent. The steps' own handlers
are the skills (`skills/`); this module walks the steps, recovers from a failed action and
finishes (submitting a form the goal filled).
"""

from __future__ import annotations

from typing import Any

import msgspec

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageObservation
from macrohard.planner_model.web_planner.goal import Step, parse_goal
from macrohard.planner_model.web_planner.page import Embed, PageView
from macrohard.planner_model.web_planner.skills import READERS, SKILLS, Ctx, PastStep
from macrohard.planner_model.web_planner.skills.base import MAX_TRIES_PER_STEP, clicked, say
from macrohard.planner_model.web_planner.skills.compute import SEARCH

PROGRESS = ("calendar", SEARCH)
EDITS = frozenset(
    {"fill", "check", "choose", "autocomplete", "slide", "sort", "style_text", "color_text"}
)
SUBMIT_NAMES = ("submit", "ok", "done", "search", "login", "log in", "sign in", "send", "go")

__all__ = ["PastStep", "PlanRequest", "decide"]


class PlanRequest(msgspec.Struct, frozen=True, kw_only=True):
    goal: str
    observation: PageObservation
    history: list[PastStep] = []
    # The task's JSON Schema for its result: an "extract ..." step reads it off the page.
    output_schema: dict[str, Any] | None = None


def decide(request: PlanRequest, embed: Embed | None = None) -> Intent:
    """The next intent for the goal on this page (`done` when every step is finished)."""
    steps = parse_goal(request.goal)
    view = PageView(request.observation, request.goal, embed)
    ctx = Ctx(view, request.history, request.goal, request.observation, request.output_schema)
    served = [h.intent.plan_step for h in request.history if h.intent.plan_step is not None]
    start = max(served, default=0)
    if not steps:
        return Intent(
            action="fail", reason=f"could not read any step from the goal {request.goal!r}"
        )
    for i, step in enumerate(steps):
        own = [h for h in request.history if h.intent.plan_step == i]
        if step.kind in READERS:  # reading needs no action: re-read from the page each time
            READERS[step.kind](step, ctx)
            continue
        if i < start:
            continue
        # Walking a widget (a calendar's months) or a search loop is progress, not a try.
        if sum(not h.intent.reason.startswith(PROGRESS) for h in own) >= MAX_TRIES_PER_STEP:
            continue  # give the rest of the goal a chance rather than loop on one step
        intent = SKILLS[step.kind](step, ctx, own)
        if intent is not None:
            return msgspec.structs.replace(_recover(intent, own), plan_step=i)
    return _finish(steps, ctx)


def _recover(intent: Intent, own: list[PastStep]) -> Intent:
    """Right after the same action failed: first dismiss what may cover the element (a popup,
    a menu) with Escape; when it fails again, activate it from the keyboard (focus + Enter),
    which no overlapping element can intercept."""
    last = own[-1] if own else None
    if last is None or last.ok or last.intent.element != intent.element:
        return intent
    if last.intent.action != intent.action:
        return intent
    failures = sum(
        1
        for h in own
        if not h.ok and h.intent.action == intent.action and h.intent.element == intent.element
    )
    if failures == 1:
        return Intent(action="press", keys="Escape", reason=f"dismiss overlays: {last.error[:80]}")
    if intent.action == "click" and intent.element is not None:
        return Intent(
            action="press",
            element=intent.element,
            keys="Enter",
            reason=f"activate from the keyboard: {intent.reason}",
        )
    return intent


def _finish(steps: list[Step], ctx: Ctx) -> Intent:
    """All steps done. A form that was filled but whose goal never said so still gets sent."""
    last = steps[-1]
    done_i = len(steps)
    # An edit (a form filled, text styled in an editor) is sent with the page's submit control.
    if last.kind in EDITS:
        own = [h for h in ctx.history if h.intent.plan_step == done_i]
        if not clicked(own) and len(own) < MAX_TRIES_PER_STEP:
            for name in SUBMIT_NAMES:
                cands = [(s, e) for s, e in ctx.view.ground(name) if s >= 0.9]
                if cands:
                    e = cands[0][1]
                    submit = Intent(action="click", element=e.id, reason=f"submit with {say(e)}")
                    return msgspec.structs.replace(_recover(submit, own), plan_step=done_i)
    return Intent(action="done", plan_step=done_i + 1, reason="every step of the goal is done")

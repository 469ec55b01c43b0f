"""What every skill shares: the history it reads progress from, the context of one decision,
the registry `Step.kind -> handler`, and the grounding helpers several skills use.

A handler returns the next intent for its step, or None when the step is finished (read
back from the history and from the page), so the same request always yields the same intent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.planner_model.web_planner.grammar import Step
from macrohard.planner_model.web_planner.page import PageView, center

MAX_TRIES_PER_STEP = 6


class PastStep(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One earlier intent and how it went; `label` names the element it acted on."""

    intent: Intent
    ok: bool = True
    error: str = ""
    label: str = ""


class Ctx:
    """One decision: the page, the whole history, and what earlier steps found on the page."""

    def __init__(
        self,
        view: PageView,
        history: list[PastStep],
        goal: str = "",
        observation: PageObservation | None = None,
        output_schema: dict[str, Any] | None = None,
    ) -> None:
        self.goal = goal
        self.view = view
        self.history = history
        self.observation = observation  # the page as observed (what extraction reads)
        self.output_schema = output_schema  # the task's result schema, if it has one
        self.anchor: PageElement | None = None  # the item a "find the X by Y" step located
        self.copied: tuple[str, PageElement] | None = None  # what a copy step read, and where


# (the step, the decision's context, the history of this step only) -> next intent or None.
Handler = Callable[[Step, Ctx, list[PastStep]], Intent | None]
# A step that needs no action of its own (reading, locating): it updates the context on
# every decision, before the steps after it are grounded.
Reader = Callable[[Step, Ctx], None]

SKILLS: dict[str, Handler] = {}
READERS: dict[str, Reader] = {}


def _claim(kind: str) -> None:
    if kind in SKILLS or kind in READERS:
        raise ValueError(f"two skills handle the step kind {kind!r}")


def skill(kind: str) -> Callable[[Handler], Handler]:
    """Register the handler of one step kind."""
    _claim(kind)
    return lambda handler: SKILLS.setdefault(kind, handler)


def reader(kind: str) -> Callable[[Reader], Reader]:
    """Register a step kind that only reads the page into the context."""
    _claim(kind)
    return lambda fn: READERS.setdefault(kind, fn)


def say(e: PageElement) -> str:
    label = (e.name or e.text or e.value or e.role)[:40]
    return f"{e.role} {label!r}"


def clicked(own: list[PastStep]) -> bool:
    """The step already clicked its target (an exploring click does not count)."""
    return any(
        h.ok
        and (h.intent.action in ("click", "click_at") or h.intent.reason.startswith("activate"))
        and not h.intent.reason.startswith("explore")
        for h in own
    )


def attempts(own: list[PastStep], f: PageElement) -> int:
    return sum(1 for h in own if h.intent.element == f.id and h.intent.action == "type")


EXPLORE_WAIT_MS = 800

# Shapes of a drawing: pressed where they are drawn, whatever lies on top there (their own
# label, usually), as a person does; an ordinary click refuses an element that is covered.
DRAWN = frozenset({"circle", "rect", "ellipse", "polygon", "polyline", "path"})


def press(e: PageElement, why: str) -> Intent:
    """A click on the element; a drawn shape is pressed at a point inside it (its box's
    centre, or the point the observer found where that is outside it: a pie's sector)."""
    if e.shape in DRAWN and e.box is not None:
        x, y = e.point if e.point is not None else (e.box.w // 2, e.box.h // 2)
        return Intent(action="click_at", element=e.id, x=x, y=y, reason=why)
    return Intent(action="click", element=e.id, reason=why)


def explore(what: str, ctx: Ctx, own: list[PastStep]) -> Intent:
    """The target is not visible: open the item found earlier, or expand what is collapsed."""
    tried = {h.label for h in own}
    # What the run's last action opened may still be unfolding (a menu spreading out,
    # content fading in): look once more after a moment before exploring or giving up.
    last = ctx.history[-1].intent.action if ctx.history else ""
    if not own and last in ("click", "click_at", "press"):
        why = f"explore: {what!r} may still be appearing"
        return Intent(action="wait_for", wait_ms=EXPLORE_WAIT_MS, reason=why)
    anchor = ctx.anchor
    if anchor is not None and say(anchor) not in tried:
        return Intent(action="click", element=anchor.id, reason=f"explore: open {say(anchor)}")
    for e in expandables(ctx.view):
        if say(e) not in tried:
            return Intent(action="click", element=e.id, reason=f"explore: expand {say(e)}")
    return Intent(action="fail", reason=f"nothing on the page matches {what!r}")


def expandables(view: PageView) -> list[PageElement]:
    """Collapsed things: aria-expanded=false, or an item led by a small text-less icon (a
    folder's disclosure triangle) that does not say it is already open."""
    out = [e for e in view.elements if e.expanded is False]
    for icon in view.elements:
        if icon.text or icon.box is None or icon.box.w > 24 or icon.box.h > 24:
            continue
        if any(w in icon.name.lower() for w in ("collapse", "expanded", "open")):
            continue
        for e in view.elements:
            if (
                e.text
                and e.box is not None
                and abs(center(e)[1] - center(icon)[1]) < 6
                and 0 <= e.box.x - (icon.box.x + icon.box.w) <= 6
            ):
                out.append(e)
    return out

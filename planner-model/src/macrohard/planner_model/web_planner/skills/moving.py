"""Clicking things that move: "click as many moving circles as possible", "click every
falling star". A moving element never holds still long enough for a click that waits for it
to settle, and a step per target through the platform is slower than the targets. So one
step presses them all: a `click_at` on one that is in sight, with `repeat_ms`, and the
actuator presses every element like it (same kind, class and colour, in the same drawing)
where it is at that moment, each as it comes into sight (actuator `chase.py`).

While nothing fitting is in sight the skill waits a moment and looks again (things keep
coming); after a few quiet seconds, or after two runs of presses, it is done. (Done early
is wrong where the page scores when its own time is up: it watches until things stop.)
"""

from __future__ import annotations

import re

import msgspec

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.skills.compute import SEARCH
from macrohard.planner_model.web_planner.skills.visual import (
    KINDS,
    drawn,
    kind_of,
    looks_step,
    matches,
    nearest_color,
)

LOOK_AGAIN_MS = 1200  # nothing in sight: wait this long before looking again (things keep coming)
QUIET_MS = 3000  # nothing in sight for this long: nothing more is coming
CHASE_MS = 8000  # one step of pressing things as they come (the actuator allows 10 s)
CHASES = 2  # runs of presses; what is left after them is not coming
MOTION = r"moving|flying|falling|bouncing|floating|running|drifting|passing"
_CLICK_MOVING = re.compile(
    rf"(?:click|hit|tap|catch|shoot)\s+(?:on\s+)?"
    rf"(?:as\s+many(?:\s+of\s+the)?|all(?:\s+of)?(?:\s+the)?|each(?:\s+of\s+the)?|every|the)?\s*"
    rf"(?:(?:{MOTION})\s+)(.+?)(?:\s+as\s+(?:possible|you\s+can))?(?:\s+before\s+.*)?$",
    re.I,
)


@clause(42)
def moving_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Click as many moving circles as possible': a look (or any drawn thing) that moves."""
    if (m := _CLICK_MOVING.match(c)) is None:
        return None
    desc = unq(m.group(1), q)
    look = looks_step(desc) or Step(kind="click_visual", alt_target=desc)
    return [msgspec.structs.replace(look, kind="click_moving", all_fields=True)]


@skill("click_moving")
def click_moving(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    looks = msgspec.structs.replace(step, kind="click_visual")
    # Words that are not about looks ("stars"): whatever is drawn.
    found = drawn(ctx.view) if step.alt_target else matches(looks, ctx.view)
    chases = sum(1 for h in own if h.intent.action == "click_at" and h.intent.repeat_ms)
    if chases >= CHASES:
        return None
    todo = [e for e in found if e.box is not None]
    if not todo and not chases:
        # Nothing in sight yet, but fitting shapes wait outside the drawing (observed without
        # a box; the page view leaves them out): the run of presses waits for them itself;
        # a step spent looking again costs a round trip the targets do not wait for.
        todo = [e for e in ctx.view.obs.elements if e.box is None and _fits(step, e)]
    if todo:
        e = todo[0]
        x, y = (e.box.w // 2, e.box.h // 2) if e.box is not None else (0, 0)
        return Intent(
            action="click_at",
            element=e.id,
            x=x,
            y=y,
            repeat_ms=CHASE_MS,
            reason=f"{SEARCH} click {say(e)} and everything like it, each where it is then",
        )
    quiet = 0
    for h in reversed(own):
        if h.intent.action != "wait_for":
            break
        quiet += h.intent.wait_ms
    if quiet >= QUIET_MS:
        return None
    return Intent(
        action="wait_for", wait_ms=LOOK_AGAIN_MS, reason=f"{SEARCH} nothing moving in sight yet"
    )


def _fits(step: Step, e: PageElement) -> bool:
    """A drawn shape out of sight that has the looks asked for (its colour and kind; its
    size is unknown until it is in sight); any drawn shape for words not about looks."""
    if not e.shape or e.shape in ("canvas", "text"):
        return False
    if step.alt_target:
        return True
    if step.value and (not e.color or nearest_color(e.color) != step.value):
        return False
    kinds = KINDS.get(step.kind_hint, frozenset())
    return not kinds or kind_of(e) in kinds

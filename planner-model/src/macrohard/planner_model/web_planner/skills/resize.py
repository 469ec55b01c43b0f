"""Resizing a box by its handle: "resize the textarea so that the height is larger than its
initial size", "make the text box wider". A person grips the bottom-right corner (where a
textarea's grip and most resize handles sit) and drags it out or in: one `drag` of the page's
own grip there when the observer shows one (an element with a resize cursor, 'resize grip
se'), else of a grip point at the box's corner, to a point past or short of it.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.page import PageView
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.text import similarity

BY = 40  # how far the corner moves, in pixels
GRIP = 3  # the grip point's distance in from the corner
MIN_SIDE = 12  # never shrink a side below this
NEAR = 24  # a grip's bottom-right corner lies this close to the box's
GROW = {"larger", "bigger", "greater", "longer", "taller", "wider", "higher"}
SHRINK = {"smaller", "less", "shorter", "narrower", "lower", "thinner"}
SIDE = {"taller": "height", "shorter": "height", "wider": "width", "narrower": "width"}
_SO_THAT = re.compile(
    r"resize\s+(?:the\s+)?(.+?)\s+so\s+(?:that\s+)?(?:the|its)\s+(height|width)\s+is\s+"
    r"(\w+)(?:\s+than\s+.*)?$",
    re.I,
)
_MAKE = re.compile(r"(?:make|resize)\s+(?:the\s+)?(.+?)\s+(\w+)(?:\s+than\s+.*)?$", re.I)


@clause(44)
def resize_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Resize the textarea so that the width is smaller ...', 'make the text box taller'."""
    if m := _SO_THAT.match(c):
        target, side, how = unq(m.group(1), q), m.group(2).lower(), m.group(3).lower()
    elif (m := _MAKE.match(c)) and m.group(2).lower() in SIDE:
        target, how = unq(m.group(1), q), m.group(2).lower()
        side = SIDE[how]
    else:
        return None
    if how not in GROW | SHRINK:
        return None
    return [Step(kind="resize", target=target, kind_hint=side, value="+" if how in GROW else "-")]


@skill("resize")
def resize(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if any(h.ok and h.intent.action == "drag" for h in own):
        return None
    name, _, kind = step.target.rpartition(" ")
    if kind.lower() in ("box", "field", "area") and name:  # "the comment box"
        grounded = ctx.view.ground(name, alt=step.target, kind="field")
    else:
        grounded = ctx.view.ground(step.target)
    found = [(s, e) for s, e in grounded if s >= 0.5 and e.box is not None]
    # What a person resizes is a box, not the words about it: of what the goal names, a
    # field (a textarea is the usual resizable thing) before the label above it.
    fields = [(s, e) for s, e in found if e.role == "textbox" or e.tag == "textarea"]
    if not fields:  # the field whose label (the text above or left of it) the goal names
        fields = [
            (s, f)
            for f in ctx.view.fields()
            if f.box is not None
            and (s := similarity(name or step.target, ctx.view.label(f))) >= 0.5
        ]
        fields.sort(key=lambda c: -c[0])
    found = fields or found
    if not found:
        return Intent(action="fail", reason=f"nothing on the page matches {step.target!r}")
    e = found[0][1]
    assert e.box is not None
    b = e.box
    gx, gy = b.w - GRIP, b.h - GRIP
    dx = dy = 0
    change = (
        BY
        if step.value == "+"
        else -min(BY, max(0, (b.w if step.kind_hint == "width" else b.h) - MIN_SIDE))
    )
    if step.kind_hint == "width":
        dx = change
    else:
        dy = change
    why = f"resize {say(e)}: its {step.kind_hint} {'+' if change > 0 else ''}{change}px"
    grip = grip_of(ctx.view, e, "e" if step.kind_hint == "width" else "s")
    if grip is not None and grip.box is not None:
        # The page's own handle: pressed at its centre, moved by the change.
        gb = grip.box
        at_x, at_y = gb.x + gb.w // 2, gb.y + gb.h // 2
        return Intent(
            action="drag", element=grip.id, x=max(0, at_x + dx), y=max(0, at_y + dy), reason=why
        )
    to_x, to_y = max(0, b.x + gx + dx), max(0, b.y + gy + dy)
    return Intent(action="drag", element=e.id, grip_x=gx, grip_y=gy, x=to_x, y=to_y, reason=why)


def grip_of(view: PageView, e: PageElement, side: str) -> PageElement | None:
    """The resize grip (observed as 'resize grip se/e/s') at the box's bottom-right that
    moves `side` ('e' the width, 's' the height): the corner one first, which moves both."""
    assert e.box is not None
    right, bottom = e.box.x + e.box.w, e.box.y + e.box.h
    near = [
        g
        for g in view.elements
        if g.name.startswith("resize grip ")
        and g.box is not None
        and abs(g.box.x + g.box.w - right) <= NEAR
        and abs(g.box.y + g.box.h - bottom) <= NEAR
        and g.name.removeprefix("resize grip ") in ("se", side)
    ]
    near.sort(key=lambda g: g.name != "resize grip se")
    return near[0] if near else None

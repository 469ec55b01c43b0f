"""Quantities set with steppers: "order one of each item: A, B" presses the "+" in each
named item's row once, then the order control."""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, names
from macrohard.planner_model.web_planner.page import PageView, center
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill

PLUS = frozenset({"+", "add", "increase", "more", "\u2795"})


@clause(24)
def each_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Order one of each item: A, B', 'add one of each: A and B'."""
    if m := re.match(
        r"(order|add|buy|get|pick)\s+one\s+of\s+each(?:\s+(?:item|product|dish|of))?\s*:?\s*(.+)$",
        c,
        re.I,
    ):
        items = [Step(kind="increase", target=n) for n in names(m.group(2), q)]
        return [*items, Step(kind="click", target=m.group(1).lower())]
    return None


def _plus_beside(view: PageView, item: PageElement) -> PageElement | None:
    if item.box is None:
        return None
    row = [
        e
        for e in view.elements
        if (e.text or e.name).strip().lower() in PLUS
        and e.box is not None
        and abs(e.box.y - item.box.y) <= max(item.box.h, 14) / 2 + 4
        and center(e)[0] > center(item)[0]
    ]
    return min(row, key=lambda e: center(e)[0]) if row else None


@skill("increase")
def increase(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if any(h.ok and h.intent.action == "click" for h in own):
        return None
    view = ctx.view
    for s, item in view.ground(step.target):
        if s < 0.9:
            break
        plus = _plus_beside(view, item)
        if plus is not None:
            return Intent(action="click", element=plus.id, reason=f"one more {say(item)}")
    return Intent(action="fail", reason=f"no '+' beside {step.target!r}")

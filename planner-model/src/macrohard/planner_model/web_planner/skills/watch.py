"""Acting when the page shows a condition: "buy the stock when the price is less than
$53.10" acts the moment the value the page shows beside its label meets it.

A value that changes faster than a decision (a ticker moving every 100 ms) has moved again
by the time a click decided on an observation lands, so the click is a `click_when`: the
actuator watches the value inside the page and clicks the moment it holds (no model call per
tick). A condition that is not one comparison ("when the count is odd") is watched by looking
again, and the control pressed once it holds.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.lookup import element_beside
from macrohard.planner_model.web_planner.reason import comparison, holds, numbers_in
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.skills.click import click
from macrohard.planner_model.web_planner.skills.compute import SEARCH
from macrohard.planner_model.web_planner.text import norm

# How long each look waits: a ticker updates a few times a second, so a value near the
# condition is looked at often; one far from it slowly, so that a long watch does not spend
# the task's steps (each look is one).
WATCH_MS = (250, 500, 1000)
# How long one click_when watches in the page: well inside the actuator's step deadline (20 s);
# a value that has not met it by then is watched again by the next step.
CLICK_WHEN_MS = 10_000


@clause(21)
def when_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Buy UBN stock when the price is less than $53.10': press 'Buy' when the price is."""
    if m := re.match(
        r"(buy|sell|click|press|order|book|submit)\b(.*?)\s+(?:when|once|as\s+soon\s+as)\s+"
        r"(?:the\s+)?([\w ]+?)\s+(?:is|goes|drops|falls|rises|gets)\s+(.+)$",
        c,
        re.I,
    ):
        verb, obj = m.group(1).lower(), unq(m.group(2).strip(), q)
        # "Buy UBN stock": the control is named by the verb; "press Go": by its object.
        control = re.sub(r"^(?:on\s+)?(?:the\s+)?", "", obj) if verb in ("click", "press") else ""
        return [
            Step(
                kind="act_when",
                target=control or verb,
                lookup=m.group(3).lower(),
                value=unq(m.group(4), q),
            )
        ]
    return None


def _watched(ctx: Ctx, what: str) -> tuple[PageElement, float | None] | None:
    """The element showing the value beside a label naming `what` ('price' -> 'Stock
    price:'), and the number it shows now."""
    for e in ctx.view.elements:
        label = norm(e.text or e.name).rstrip(":")
        if label and (label == what or label.endswith(" " + what)):
            shown = element_beside(ctx.view, e.text or e.name)
            if shown is not None:
                nums = numbers_in(shown.text or shown.name)
                return shown, nums[0] if nums else None
    return None


@skill("act_when")
def act_when(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if any(h.ok and h.intent.action in ("click", "click_when") for h in own):
        return None
    if len(own) >= 120:
        return Intent(action="fail", reason=f"the {step.lookup} never got {step.value}")
    watched = _watched(ctx, step.lookup)
    press = click(Step(kind="click", target=step.target), ctx, [])
    pressable = press is not None and press.action == "click"
    compared = comparison(step.value)
    if watched is not None and compared is not None and pressable:
        assert press is not None
        shown, _ = watched
        op, bound = compared
        return Intent(
            action="click_when",
            element=press.element,
            target_element=shown.id,
            text=f"{op} {bound!r}",
            wait_ms=CLICK_WHEN_MS,
            reason=f"{press.reason} when {say(shown)} is {step.value}",
        )
    now = watched[1] if watched is not None else None
    if now is not None and holds(now, step.value) is True and pressable:
        return press
    seen = f"{now:g}" if now is not None else "nothing"
    why = f"{SEARCH} the {step.lookup} shows {seen}, waiting until {step.value}"
    return Intent(action="wait_for", wait_ms=look_ms(now, step.value), reason=why)


def look_ms(now: float | None, condition: str) -> int:
    """The wait before the next look: short within 3% of the condition's number, longest
    beyond 10% (or when there is nothing to compare)."""
    bound = numbers_in(condition)
    if now is None or not bound:
        return WATCH_MS[1]
    gap = abs(now - bound[0]) / max(abs(bound[0]), 1e-9)
    return WATCH_MS[0] if gap < 0.03 else WATCH_MS[1] if gap <= 0.10 else WATCH_MS[2]

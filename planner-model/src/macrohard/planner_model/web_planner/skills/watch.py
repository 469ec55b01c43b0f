"""Acting when the page shows a condition: "buy the stock when the price is less than
$53.10" watches the value the page shows beside its label, then acts."""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.lookup import value_beside
from macrohard.planner_model.web_planner.reason import holds, numbers_in
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, skill
from macrohard.planner_model.web_planner.skills.compute import SEARCH
from macrohard.planner_model.web_planner.text import norm

# How long each look waits: a ticker updates a few times a second, so a value near the
# condition is looked at often; one far from it slowly, so that a long watch does not spend
# the task's steps (each look is one).
WATCH_MS = (250, 500, 1000)


@clause(21)
def when_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Buy UBN stock when the price is less than $53.10': watch, then press 'Buy'."""
    if m := re.match(
        r"(buy|sell|click|press|order|book|submit)\b(.*?)\s+(?:when|once|as\s+soon\s+as)\s+"
        r"(?:the\s+)?([\w ]+?)\s+(?:is|goes|drops|falls|rises|gets)\s+(.+)$",
        c,
        re.I,
    ):
        return [
            Step(kind="watch", target=m.group(3).lower(), value=unq(m.group(4), q)),
            Step(kind="click", target=m.group(1).lower()),
        ]
    return None


def _watched(ctx: Ctx, what: str) -> float | None:
    """The number shown beside a label naming `what` ('price' -> 'Stock price:')."""
    for e in ctx.view.elements:
        label = norm(e.text or e.name).rstrip(":")
        if label and (label == what or label.endswith(" " + what)):
            shown = value_beside(ctx.view, e.text or e.name)
            nums = numbers_in(shown or "")
            if nums:
                return nums[0]
    return None


@skill("watch")
def watch(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    now = _watched(ctx, step.target)
    if now is not None and holds(now, step.value) is True:
        return None
    if len(own) >= 120:
        return Intent(action="fail", reason=f"the {step.target} never got {step.value}")
    seen = f"{now:g}" if now is not None else "nothing"
    why = f"{SEARCH} the {step.target} shows {seen}, waiting until {step.value}"
    return Intent(action="wait_for", wait_ms=look_ms(now, step.value), reason=why)


def look_ms(now: float | None, condition: str) -> int:
    """The wait before the next look: short within 3% of the condition's number, longest
    beyond 10% (or when there is nothing to compare)."""
    bound = numbers_in(condition)
    if now is None or not bound:
        return WATCH_MS[1]
    gap = abs(now - bound[0]) / max(abs(bound[0]), 1e-9)
    return WATCH_MS[0] if gap < 0.03 else WATCH_MS[1] if gap <= 0.10 else WATCH_MS[2]

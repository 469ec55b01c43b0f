"""Scrolling a container (named by its kind: "textarea", "list") or the page to one end."""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.planner_model.web_planner.grammar import Step, clause
from macrohard.planner_model.web_planner.page import kind_words
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.skills.click import click_object


@clause(20)
def scroll_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Scroll the textarea to the bottom', 'scroll to the top of the list'. What follows a
    run-on ('... of the text hit submit') is read on."""
    if m := re.match(
        r"scroll\s+(?:down\s+|up\s+)?(?:(?:in\s+)?the\s+(\w+)\s+)?(?:all\s+the\s+way\s+)?"
        r"to\s+the\s+(bottom|top|end|start)(?:\s+of\s+(?:the\s+)?(\w+))?(.*)$",
        c,
        re.I,
    ):
        where = m.group(1) or m.group(3) or ""
        down = m.group(2).lower() in ("bottom", "end")
        rest = re.search(r"\b(?:hit|press|click)\s+(.+)$", m.group(4) or "", re.I)
        then = click_object(rest.group(1), q) if rest else []
        return [Step(kind="scroll", target=where.lower(), value="down" if down else "up"), *then]
    return None


@skill("scroll")
def scroll(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if any(h.ok for h in own):
        return None
    view = ctx.view
    dy = 100_000 if step.value == "down" else -100_000
    pool = [e for e in view.elements if step.target and step.target in kind_words(e)]
    if not pool and step.target:
        pool = [s_e[1] for s_e in view.ground(step.target)[:1]]
    if not pool:
        return Intent(action="scroll", dy=dy, reason=f"scroll the page {step.value}")
    e = pool[0]
    return Intent(action="scroll", element=e.id, dy=dy, reason=f"scroll {say(e)} {step.value}")

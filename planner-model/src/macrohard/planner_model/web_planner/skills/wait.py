"""Waiting: "wait 3 seconds" lets that time pass once (a page may measure it)."""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.planner_model.web_planner.grammar import Step, clause
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, skill


@clause(10)
def wait_clause(c: str, q: list[str]) -> list[Step] | None:
    """'wait 3 seconds': let the time pass. 'wait for the X': a later step that needs X is
    retried until it is there, so the clause makes no step."""
    low = c.lower()
    if m := re.match(
        r"wait\s+(?:for\s+)?(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|seconds?)\b", low
    ):
        seconds = float(m.group(1)) / (1000 if m.group(2).startswith("m") else 1)
        return [Step(kind="wait", value=str(seconds))]
    if re.match(r"wait\b", low):
        return []
    return None


@skill("wait")
def wait(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    """Let the time the goal asks for pass, once."""
    if any(h.ok for h in own):
        return None
    ms = int(float(step.value) * 1000) + 100  # a margin: the page measures its own time
    return Intent(action="wait_for", wait_ms=min(ms, 30000), reason=f"wait {step.value} s")

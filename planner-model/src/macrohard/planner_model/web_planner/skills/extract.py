"""Extracting: "extract the orders" reads the data the task's output_schema asks for, once,
on the page that shows it (a matching table header with rows, list items, a labelled value).

The intent carries no values: the actuator reads them off the page it observes
(`extract.extract`, the same reading) and the planner merges every extraction of the run
into the task's result. No schema, or a page without any of it: nothing to read here.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.planner_model.web_planner.extract import holds
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, skill


@clause(180)
def extract_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"extract\s+(?:the\s+)?(.*)$", c, re.I):
        return [Step(kind="extract", target=unq(m.group(1), q))]
    return None


@skill("extract")
def extract(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    schema, observation = ctx.output_schema, ctx.observation
    if schema is None or observation is None:
        return None
    if any(h.ok and h.intent.action == "extract" for h in own):
        return None
    if not holds(schema, observation):
        return None
    return Intent(action="extract", reason=f"read {step.target or 'the data'} off this page")

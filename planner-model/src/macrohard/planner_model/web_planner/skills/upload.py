"""Uploading: 'Upload "report.pdf" to Document' sets a file the task brought on a file input.

The files themselves are the task's (named in `POST /v1/tasks` `files`); the model only
grounds the input: a file input is observed as an `input` with the role `button` and no
value (a button-like input shows its caption as its value).
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, names, unq
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill


@clause(15)
def upload_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Upload "a.csv" to the Document field', 'attach the file "a.pdf"', 'upload "a" and "b"'."""
    m = re.match(
        r"(?:upload|attach)\s+(?:the\s+)?(?:files?\s+)?(.+?)"
        r"(?:\s+(?:to|into|in|on|using|with|as)\s+(?:the\s+)?(.+?))?$",
        c,
        re.I,
    )
    if not m:
        return None
    target = re.sub(r"\s+(?:field|input|box|button)$", "", unq(m.group(2) or "", q), flags=re.I)
    return [Step(kind="upload", values=names(m.group(1), q), target=target)]


def _file_inputs(ctx: Ctx) -> list[PageElement]:
    return [
        e
        for e in ctx.view.elements
        if e.tag == "input" and e.role == "button" and e.value is None and not e.disabled
    ]


@skill("upload")
def upload(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    """Set the named files on the file input the goal names (the only one, if it names none)."""
    if any(h.ok for h in own):
        return None
    inputs = _file_inputs(ctx)
    chosen = inputs[0] if inputs else None
    if step.target and inputs:
        ranked = ctx.view.ground(step.target, pool=inputs)
        chosen = ranked[0][1] if ranked else chosen
    if chosen is None:
        return Intent(action="fail", reason="the page shows no file input to upload to")
    files = ", ".join(step.values)
    return Intent(
        action="upload",
        element=chosen.id,
        values=list(step.values),
        reason=f"upload {files} to {say(chosen)}",
    )

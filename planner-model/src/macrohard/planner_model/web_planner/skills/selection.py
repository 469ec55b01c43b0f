"""Selecting (highlighting) text: "highlight the text in the 2nd paragraph", "select the
words 'quick brown'", "highlight the paragraph below".

One `select_text` on the element that holds the text: a quoted or named phrase is selected
where it occurs, a whole paragraph without naming its text (an observation clips long text,
the actuator selects all of it). Done when the page reports that selection.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.page import PageView, center
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.text import ordinal

BLOCKS = r"(?:paragraph|text\s+block|block|passage|sentence|line)"
_IN_BLOCK = re.compile(
    rf"(?:highlight|select|mark)\s+(?:all\s+)?(?:of\s+)?(?:the\s+)?(?:text|words|contents?)?\s*"
    rf"(?:in|of|from)?\s*(?:the\s+)?(?:(\w+)\s+)?{BLOCKS}\b(.*)$",
    re.I,
)
_PHRASE = re.compile(r"(?:highlight|select|mark)\s+(?:the\s+)?(?:text|words?|phrase)\s+(.+)$", re.I)


@clause(55)
def highlight_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := _IN_BLOCK.match(c):
        return [Step(kind="highlight", ordinal=(ordinal(m.group(1)) or 0) if m.group(1) else 0)]
    if (m := _PHRASE.match(c)) and ("QQ" in m.group(1) or c.lower().startswith("highlight")):
        return [Step(kind="highlight", value=unq(m.group(1), q))]
    return None


def blocks(view: PageView) -> list[PageElement]:
    """Text a person would call a paragraph, in reading order."""
    paras = [e for e in view.elements if e.role == "paragraph" and e.text]
    if not paras:
        paras = [e for e in view.elements if e.role == "text" and len(e.text.split()) >= 2]
    return sorted(paras, key=lambda e: (center(e)[1], center(e)[0]))


def _squash(s: str) -> str:
    return " ".join(s.split())


@skill("highlight")
def highlight(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    if step.value:
        holders = [e for e in view.elements if step.value in _squash(e.text or e.value or "")]
        if not holders:
            return Intent(action="fail", reason=f"no text {step.value!r} on the page")
        # The innermost element holding it: the last one in document order.
        target, text = holders[-1], step.value
    else:
        paras = blocks(view)
        if not paras or len(paras) < step.ordinal:
            return Intent(action="fail", reason=f"no paragraph {step.ordinal or ''} on the page")
        # "The paragraph" without a number: the one with the most text.
        target = paras[step.ordinal - 1] if step.ordinal else max(paras, key=lambda e: len(e.text))
        text = None
    selected = _squash(view.obs.selection)
    want = text if text is not None else _squash(target.text).rstrip("…")
    if selected and want and (selected == want or (text is None and selected.startswith(want))):
        return None
    if any(h.ok and h.intent.action == "select_text" for h in own) or len(own) >= 2:
        return None
    return Intent(
        action="select_text", element=target.id, text=text, reason=f"highlight in {say(target)}"
    )

"""Questions about what is drawn, answered by clicking the answer: "how many small green
items are there?" (count the drawn things the words describe, click the control showing that
number) and "click the button that best describes the figure" (name the drawn thing's kind -
circle, rectangle, triangle, letter, number - and click the control that says it).

The drawn things and their looks (kind, colour, size) are read as `visual.py` reads them.
"""

from __future__ import annotations

import re

import msgspec

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.page import PageView
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.skills.visual import (
    dim,
    drawn,
    kind_of,
    looks_step,
    matches,
)

# What a person calls each observed kind, most likely word first.
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "round", "ellipse", "oval"),
    "ellipse": ("ellipse", "oval", "circle"),
    "rect": ("rectangle", "square", "box"),
    "polygon": ("triangle", "polygon"),
    "digit": ("number", "digit", "numeral"),
    "letter": ("letter", "character", "alphabet"),
    "line": ("line",),
}
_HOW_MANY = re.compile(
    r"(?:how\s+many|count\s+(?:the|all(?:\s+the)?)?)\s*(.+?)"
    r"(?:\s+(?:are|is)\s+(?:there|shown|drawn|displayed|visible)(?:\s+\w+(?:\s+\w+)?)?)?\??$",
    re.I,
)
_DESCRIBE = re.compile(
    r"(?:click|select|choose|press|pick)\s+(?:on\s+)?the\s+(?:button|option|answer|choice)\s+"
    r"that\s+(?:best\s+)?(?:describes|names|matches)\s+the\s+"
    r"(?:figure|shape|drawing|image|picture|item|symbol)(?:\s+(?:below|above|shown))?$",
    re.I,
)


@clause(40)
def count_clause(c: str, q: list[str]) -> list[Step] | None:
    """'How many large red circles are there?': a count of what is drawn, as an answer."""
    if (m := _HOW_MANY.match(c)) is None:
        return None
    look = looks_step(unq(m.group(1), q))
    if look is None:
        return None
    return [msgspec.structs.replace(look, kind="count_drawn")]


@clause(41)
def describe_clause(c: str, q: list[str]) -> list[Step] | None:
    if _DESCRIBE.match(c):
        return [Step(kind="describe_drawn")]
    return None


def _answered(own: list[PastStep]) -> bool:
    return any(h.ok and h.intent.action == "click" for h in own)


def _answer(view: PageView, words: tuple[str, ...], why: str) -> Intent | None:
    """The control whose whole label is one of `words` (tried in order)."""
    controls = [e for e in view.elements if e.role in ("button", "link", "radio", "option")]
    for w in words:
        for e in controls:
            if (e.name or e.text or e.value or "").strip().lower() == w.lower():
                return Intent(action="click", element=e.id, reason=f"{why}: {say(e)}")
    return None


@skill("count_drawn")
def count_drawn(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if _answered(own):
        return None
    n = len(
        matches(
            msgspec.structs.replace(step, kind="click_visual"),
            ctx.view,
        )
    )
    found = _answer(ctx.view, (str(n),), f"{n} drawn things fit")
    return found or Intent(action="fail", reason=f"counted {n}, but no control shows {n}")


def figure(view: PageView) -> PageElement | None:
    """The drawn thing a question is about: the biggest one (a lone figure, usually)."""
    things = [e for e in drawn(view) if kind_of(e) in KIND_WORDS]
    return max(things, key=dim, default=None)


@skill("describe_drawn")
def describe_drawn(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if _answered(own):
        return None
    f = figure(ctx.view)
    if f is None:
        return Intent(action="fail", reason="nothing drawn on the page to describe")
    kind = kind_of(f)
    found = _answer(ctx.view, KIND_WORDS[kind], f"the figure is a {kind}")
    return found or Intent(action="fail", reason=f"no control names a {kind}")

"""Answers computed from the page: "solve for x" reads the equation the page shows and
solves it (a later "type your answer" enters it); "mark the numbers as odd or even" clicks,
beside each number, the control naming its category; "generate a number greater than 3"
presses the generating control until the number shown meets the condition; "guess the
number between 0-9" searches by the page's higher/lower feedback."""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause
from macrohard.planner_model.web_planner.page import FIELD_ROLES, INTERACTIVE, PageView, center
from macrohard.planner_model.web_planner.reason import (
    NotArithmetic,
    category,
    holds,
    numbers_in,
    show,
    solve_linear,
)
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, reader, say, skill
from macrohard.planner_model.web_planner.text import norm

SEARCH = "search:"  # a reason prefix: a step of a search loop is progress, not another try
NUMBER_ONLY = re.compile(r"\s*[-\u2212]?\d+(?:\.\d+)?\s*")


@clause(25)
def solve_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Solve for x', 'solve the equation for y'."""
    if m := re.match(r"solve\s+(?:the\s+\w+\s+)?for\s+(\w+)$", c, re.I):
        return [Step(kind="solve", target=m.group(1))]
    return None


@clause(26)
def classify_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Mark the numbers below as odd or even'."""
    if m := re.match(
        r"(?:mark|label|classify|tag)\s+(?:the\s+|each\s+|all\s+|every\s+)?(?:of\s+the\s+)?"
        r"numbers?\b.*?\bas\s+(\w+)\s+or\s+(\w+)",
        c,
        re.I,
    ):
        return [Step(kind="classify", values=[m.group(1).lower(), m.group(2).lower()])]
    return None


@clause(27)
def generate_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Generate a number greater than 3', 'generate an odd number'."""
    if m := re.match(
        r"generate\s+an?\s+(?:(\w+)\s+)?number(?:\s+(?:that\s+is\s+)?(.+))?$", c, re.I
    ):
        condition = (m.group(2) or m.group(1) or "").strip()
        return [Step(kind="generate", value=condition, target="generate")]
    return None


@clause(28)
def guess_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Guess the number between 0-9': a search guided by the page's feedback."""
    if m := re.match(
        r"guess\s+(?:the|a)\s+number\s+between\s+(-?\d+)\s*(?:-|to|and)\s*(-?\d+)", c, re.I
    ):
        return [Step(kind="guess", values=[m.group(1), m.group(2)])]
    if re.match(r"use\s+the\s+(?:feedback|hints?)\b", c, re.I):
        return []  # how to search, already part of the guess step
    return None


@reader("solve")
def solve(step: Step, ctx: Ctx) -> None:
    """The equation on the page holding the unknown; its solution becomes the copied value."""
    var = step.target or "x"
    for e in ctx.view.elements:
        text = (e.text or e.name).strip()
        if "=" not in text or not re.search(rf"\b{re.escape(var)}\b|\d{re.escape(var)}\b", text):
            continue
        try:
            ctx.copied = (show(solve_linear(text, var)), e)
            return
        except (NotArithmetic, ZeroDivisionError):
            continue


def shown_numbers(view: PageView) -> list[tuple[float, PageElement]]:
    """Numbers the page shows on their own (not in a control): (value, element)."""
    out = []
    for e in view.elements:
        text = e.text or ""
        if e.role in INTERACTIVE or e.role in FIELD_ROLES or not NUMBER_ONLY.fullmatch(text):
            continue
        out.append((numbers_in(text)[0], e))
    return out


def _same_row(a: PageElement, b: PageElement) -> bool:
    if a.box is None or b.box is None:
        return False
    return abs(center(a)[1] - center(b)[1]) < max(a.box.h, b.box.h, 12) / 2 + 4


@skill("classify")
def classify(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    done = {h.intent.element for h in own if h.ok}
    for n, e in shown_numbers(view):
        cat = category(n, step.values)
        if cat is None:
            continue
        choices = [
            b for b in view.elements
            if b is not e and norm(b.text or b.name) == cat and _same_row(b, e)
        ]  # fmt: skip
        if not choices:
            continue
        b = min(choices, key=lambda b: abs(center(b)[0] - center(e)[0]))
        if b.id not in done:
            return Intent(action="click", element=b.id, reason=f"{show(n)} is {cat}: {say(b)}")
    return None


@skill("generate")
def generate(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    pressed = [h for h in own if h.ok and h.intent.action == "click"]
    shown = shown_numbers(view)
    if pressed and shown and holds(shown[0][0], step.value) is True:
        return None
    if len(own) >= 30:
        return Intent(action="fail", reason=f"no number {step.value} after {len(own)} tries")
    cands = [(s, e) for s, e in view.ground(step.target) if s >= 0.5]
    if not cands:
        return Intent(action="fail", reason="nothing on the page generates a number")
    e = cands[0][1]
    now = f" (shows {show(shown[0][0])})" if pressed and shown else ""
    return Intent(action="click", element=e.id, reason=f"{SEARCH} press {say(e)}{now}")


# The page's answer to a guess: "The number is higher than 4", "go lower".
_FEEDBACK = re.compile(r"\b(higher|lower|greater|less|bigger|smaller|more|fewer)\b", re.I)


@skill("guess")
def guess(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    """Bisect [lo, hi]: type a guess, submit it, narrow the range by the feedback shown."""
    view = ctx.view
    lo, hi = int(step.values[0]), int(step.values[1])
    for h in own:  # the range each guess was made in travels in its reason
        if m := re.search(r"in \[(-?\d+), (-?\d+)\]", h.intent.reason):
            lo, hi = int(m.group(1)), int(m.group(2))
    last = own[-1] if own else None
    fields = view.fields()
    if not fields:
        return Intent(action="fail", reason="no field to type a guess into")
    if last is not None and last.intent.action == "type":
        submit = [(s, e) for s, e in view.ground("submit") if s >= 0.5]
        if submit:
            e = submit[0][1]
            return Intent(action="click", element=e.id, reason=f"{SEARCH} submit the guess")
        return Intent(action="press", element=fields[0].id, keys="Enter", reason=f"{SEARCH} enter")
    typed = [h.intent.text for h in own if h.intent.action == "type" and h.intent.text]
    if last is not None and typed:  # a guess was submitted: read the feedback on it
        g = int(typed[-1])
        said = " ".join((e.text or "") for e in view.elements if (e.text or "") != ctx.goal)
        if m := _FEEDBACK.search(said):
            if m.group(1).lower() in ("higher", "greater", "bigger", "more"):
                lo = max(lo, g + 1)
            else:
                hi = min(hi, g - 1)
        elif re.search(r"\bcorrect\b|\bright\b", said, re.I):
            return None
    if lo > hi:
        return Intent(action="fail", reason="the feedback contradicts itself")
    g = (lo + hi) // 2
    return Intent(
        action="type",
        element=fields[0].id,
        text=str(g),
        reason=f"{SEARCH} guess {g} in [{lo}, {hi}]",
    )

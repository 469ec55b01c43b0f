"""Choosing among options: checkboxes and radios by label, a select/dropdown/list by its
option, an autocomplete field by a suggestion that fits a prefix and suffix."""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.planner_model.web_planner.grammar import Step, clause, names, unq
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, explore, say, skill
from macrohard.planner_model.web_planner.skills.click import click
from macrohard.planner_model.web_planner.text import norm, ordinal, similarity, words


@clause(60)
def autocomplete_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(
        r"(?:enter|type|input|write|fill in)\s+an?\s+\w+\s+that\s+starts\s+with\s+"
        r"(\S+)(?:\s+and\s+ends\s+with\s+(\S+))?",
        c,
        re.I,
    ):
        return [
            Step(
                kind="autocomplete",
                value=unq(m.group(1), q),
                values=[unq(m.group(2), q)] if m.group(2) else [],
            )
        ]
    return None


@clause(90)
def choose_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(
        r"(?:select|choose|pick)\s+(.+?)\s+(?:from|in)\s+the\s+(?:\w+\s+)?"
        r"(?:list|dropdown|drop-down|menu|options|select)\b",
        c,
        re.I,
    ):
        return [Step(kind="choose", value=unq(m.group(1), q))]
    return None


@clause(100)
def check_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"(?:select|check|tick)\s+(.+)$", c, re.I):
        obj = m.group(1)
        if ordinal(words(obj)[0] if words(obj) else "") is None:
            picked = [] if obj.lower().strip() in ("nothing", "none") else names(obj, q)
            return [Step(kind="check", values=picked)]
    return None


@skill("check")
def check(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    wanted = {v.strip() for v in step.values}
    boxes = [e for e in view.elements if e.role in ("checkbox", "radio", "switch")]
    for b in boxes:
        label = view.label(b).strip()
        want = label in wanted or norm(label) in {norm(w) for w in wanted}
        if bool(b.checked) != want and (want or b.role != "radio"):
            return Intent(
                action="check" if want else "uncheck",
                element=b.id,
                reason=f"{'check' if want else 'uncheck'} {label!r}",
            )
    return None


@skill("choose")
def choose(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    for e in view.elements:
        if e.options:
            best = max(e.options, key=lambda o: similarity(step.value, o))
            if similarity(step.value, best) < 0.5:
                continue
            if (e.value or "") == best:
                return None
            if sum(1 for h in own if h.intent.element == e.id) >= 2:
                return None
            return Intent(
                action="select", element=e.id, values=[best], reason=f"choose {best!r} in {say(e)}"
            )
    return click(Step(kind="click", target=step.value), ctx, own)


@skill("autocomplete")
def autocomplete(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    fields = view.fields()
    if not fields:
        return explore("a text field", ctx, own)
    f = fields[0]
    prefix, suffix = step.value, (step.values[0] if step.values else "")
    value = f.value or ""

    def fits(s: str) -> bool:
        return s.lower().startswith(prefix.lower()) and s.lower().endswith(suffix.lower())

    if fits(value) and any(h.intent.action == "click" for h in own):
        return None
    suggestions = [e for e in view.elements if e is not f and fits((e.text or e.name).strip())]
    picked = [m.group(1) for h in own if (m := re.match(r"pick suggestion (.+)$", h.intent.reason))]
    if picked and not fits(value):
        # The list click did not take (a menu still animating): type the chosen item itself.
        return Intent(
            action="type",
            element=f.id,
            text=picked[-1],
            reason=f"enter the picked item {picked[-1]!r}",
        )
    if suggestions and value.lower().startswith(prefix.lower()):
        e = suggestions[0]
        text = (e.text or e.name).strip()
        return Intent(action="click", element=e.id, reason=f"pick suggestion {text}")
    if not value.lower().startswith(prefix.lower()) or not any(
        h.intent.action == "type" for h in own
    ):
        return Intent(
            action="type", element=f.id, text=prefix, reason=f"type {prefix!r} to get suggestions"
        )
    if fits(value):
        return None
    return Intent(action="press", element=f.id, keys="ArrowDown", reason="open suggestions")

"""Reading the page into the context: "find the email by X" locates an anchor later steps
are grounded near; "copy the 2nd word of the paragraph" reads a value a later fill enters.
Neither acts: both re-read the page on every decision."""

from __future__ import annotations

import re

from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.page import FIELD_ROLES, PageView, kind_words
from macrohard.planner_model.web_planner.skills.base import Ctx, reader
from macrohard.planner_model.web_planner.text import norm, ordinal


@clause(130)
def nth_part_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(
        r"(?:find|read|get|copy|take)\s+the\s+(\w+)\s+(word|letter|number|line|"
        r"sentence|character)\s+(?:in|of|from)\s+(?:the\s+)?(.+)$",
        c,
        re.I,
    ):
        return [
            Step(
                kind="copy",
                ordinal=ordinal(m.group(1)) or 1,
                kind_hint=m.group(2).lower(),
                target=unq(m.group(3), q),
            )
        ]
    return None


@clause(140)
def copy_text_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(
        r"copy\s+the\s+(?:text|value|content)s?\s+(?:in|of|from)\s+(?:the\s+)?(.+?)"
        r"(?:\s+(?:below|above))?$",
        c,
        re.I,
    ):
        return [Step(kind="copy", kind_hint="text", target=unq(m.group(1), q))]
    return None


@clause(150)
def locate_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"find\s+(?:the\s+)?\w+\s+(?:by|from|named|called|titled)\s+(.+)$", c, re.I):
        return [Step(kind="locate", target=unq(m.group(1), q))]
    return None


@reader("copy")
def copy(step: Step, ctx: Ctx) -> None:
    ctx.copied = read_part(step, ctx.view) or ctx.copied


@reader("locate")
def locate(step: Step, ctx: Ctx) -> None:
    found = [(s, e) for s, e in ctx.view.ground(step.target) if s >= 0.9]
    ctx.anchor = (found[0][1] if found else None) or ctx.anchor


def read_part(step: Step, view: PageView) -> tuple[str, PageElement] | None:
    """'the 2nd word in the paragraph', 'the text in the textarea': value and source element."""
    ws = norm(step.target).split()
    nth = ordinal(ws[0]) if ws else None
    phrase = " ".join(ws[1:] if nth else ws[:2])
    kinds = [
        e
        for e in view.elements
        if phrase and (phrase in kind_words(e) or phrase.split()[0] in kind_words(e))
    ]
    pool = kinds[nth - 1 : nth] if nth and 0 < nth <= len(kinds) else kinds
    if not pool and phrase:  # "the notes": a field or text named so (its label)
        holders = [e for e in view.elements if e.value or (e.text and e.role not in FIELD_ROLES)]
        pool = [e for s, e in view.ground(phrase, pool=holders) if s >= 0.9][:1]
    if not pool:  # "the paragraph": the longest text on the page that is not a control
        texts = [e for e in view.elements if e.text and e.role not in FIELD_ROLES]
        pool = sorted(texts, key=lambda e: -len(e.text))[:1]
    if not pool:
        return None
    source = pool[0]
    content = source.value if source.value is not None and source.value != "" else source.text
    content = content or source.name
    if step.kind_hint in ("word", "number"):
        if step.ordinal <= 0 and source.value_end:
            # The last word of a value observed in two parts: from its end, whose first
            # word may be cut in the middle.
            content = " ".join(source.value_end.split()[1:])
        tokens = [t.strip(".,;:!?\"'()") for t in content.split()]
        tokens = [t for t in tokens if t]
        n = step.ordinal if step.ordinal > 0 else len(tokens)
        return (tokens[n - 1], source) if 0 < n <= len(tokens) else None
    if step.kind_hint in ("letter", "character"):
        n = step.ordinal if step.ordinal > 0 else len(content)
        return (content[n - 1], source) if 0 < n <= len(content) else None
    return (content, source)

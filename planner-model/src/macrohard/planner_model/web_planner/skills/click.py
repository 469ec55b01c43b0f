"""Clicking what the goal names: a control by its text, the n-th widget of a kind or the n-th
result of a (paged) list, expanding a section, focusing a field."""

from __future__ import annotations

import math
import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.page import INTERACTIVE, PageView, center, kind_words
from macrohard.planner_model.web_planner.skills.base import (
    Ctx,
    PastStep,
    clicked,
    explore,
    press,
    say,
    skill,
)
from macrohard.planner_model.web_planner.text import norm, ordinal

WIDGET_KINDS = frozenset({"radio", "checkbox", "button", "textbox", "field", "option", "tab"})
NAV_TEXT = frozenset({"<", ">", "«", "»", "next", "prev", "previous", "first", "last", "..."})
KIND_WORDS = (
    "button",
    "link",
    "tab",
    "icon",
    "widget",
    "checkbox",
    "item",
    "option",
    "result",
    "folder",
    "file",
    "element",
    "menu",
    "entry",
    "box",
    "field",
    "textbox",
)


def click_object(obj: str, q: list[str]) -> list[Step]:
    """The steps of 'click OBJ': a named control, the n-th of a kind, a submit-like word."""
    obj = re.sub(r"^(?:on|at)\s+", "", obj.strip(), flags=re.I)
    obj = re.sub(r"\s+to\s+(?!QQ).*$", "", obj)  # "the star icon to mark it as important"
    # "Submit when done", "Submit when finished": when, not what.
    obj = re.sub(
        r"\s+(?:when|once|after)\s+(?:you(?:'re|\s+are)\s+)?(?:done|finished|ready|complete)\b.*$",
        "",
        obj,
        flags=re.I,
    )
    obj = re.sub(r"^(?:the|a|an)\s+", "", obj, flags=re.I)
    # "their address": the address of the item found earlier (grounded near the anchor).
    obj = re.sub(r"^(?:their|his|her|its)\s+", "", obj, flags=re.I)
    ws = obj.split()
    if not ws:
        return []
    n = ordinal(ws[0])
    if n is not None and len(ws) > 1:
        return [Step(kind="click_nth", ordinal=n, kind_hint=" ".join(ws[1:]))]
    if m := re.search(r"\b(?:named|called|labelled|labeled|titled|with text)\s+(.+)$", obj, re.I):
        return [Step(kind="click", target=unq(m.group(1), q))]
    if n_ := re.fullmatch(r"(?:the\s+)?(?:submit|login|log in|search|send|ok|next)", obj, re.I):
        return [Step(kind="click", target=unq(n_.group(0), q))]
    kind = ""
    rest = ws
    if ws[0].lower() in KIND_WORDS:
        kind, rest = ws[0].lower(), ws[1:]
    elif ws[-1].lower() in KIND_WORDS:
        kind, rest = ws[-1].lower(), ws[:-1]
    target = unq(" ".join(rest), q)
    return [Step(kind="click", target=target, kind_hint=kind, alt_target=unq(obj, q))]


@clause(40)
def nth_widget_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Check the 3rd radio button', 'click the 2nd checkbox': the n-th widget of a kind."""
    if m := re.match(
        r"(?:check|select|tick|click(?:\s+on)?|press|mark|choose|pick)\s+(?:the\s+)?"
        r"(\w+)\s+(radio(?:\s+button)?|checkbox|check\s+box|button|textbox|text\s+field|"
        r"field|link|option|item|tab)s?$",
        c,
        re.I,
    ):
        n = ordinal(m.group(1))
        if n is not None:
            return [Step(kind="click_nth", ordinal=n, kind_hint=m.group(2).lower())]
    return None


@clause(50)
def by_clicking_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Close the dialog by clicking the x': the means is the step."""
    m = re.search(r"\bby\s+(?:click(?:ing)?|press(?:ing)?|select(?:ing)?)\s+(.*)$", c, re.I)
    return click_object(m.group(1), q) if m else None


@clause(110)
def expand_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"expand\s+(?:the\s+)?(.*)$", c, re.I):
        return [Step(kind="expand", target=unq(m.group(1), q))]
    return None


@clause(120)
def focus_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"focus\s+(?:into|in|on)?\s*(?:the\s+)?(.*)$", c, re.I):
        ws = m.group(1).split()
        n = ordinal(ws[0]) if ws else None
        return [Step(kind="focus", ordinal=n or 0, kind_hint=" ".join(ws[1:] if n else ws))]
    return None


@clause(190)
def click_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"(?:click|press|hit|tap|push|select|open|choose)\s+(.*)$", c, re.I):
        return click_object(m.group(1), q)
    return None


@skill("click")
def click(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if clicked(own):
        return None
    cands = ctx.view.ground(step.target, step.alt_target, step.kind_hint, near=ctx.anchor)
    if cands and cands[0][0] >= 0.5:
        e = cands[0][1]
        # A label ("Address:") names the control beside it, which is what takes the click.
        e = control_beside(ctx.view, e) or e
        return press(e, f"click {say(e)} for {step.target!r}")
    # "their phone number" where the page says "Phone:": a label that names one of the
    # target's words, and the control beside it.
    for word in step.target.split():
        for s, label in ctx.view.ground(word, near=ctx.anchor):
            control = control_beside(ctx.view, label) if s >= 0.9 else None
            if control is not None:
                why = f"click {say(control)} beside {say(label)} for {step.target!r}"
                return Intent(action="click", element=control.id, reason=why)
    return explore(step.target or step.kind_hint, ctx, own)


@skill("expand")
def expand(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if clicked(own):
        return None
    collapsed = [e for e in ctx.view.elements if e.expanded is False]
    pool = collapsed or ctx.view.elements
    cands = ctx.view.ground(step.target, pool=pool)
    if not collapsed:  # a paragraph that mentions the menu is not what opens it
        cands = [(s, e) for s, e in cands if e.role in INTERACTIVE or e.shape]
    e = cands[0][1] if cands else (collapsed[0] if collapsed else None)
    if e is None:
        e = opener(ctx.view)
    if e is None:
        return None  # nothing collapsed: already expanded
    return press(e, f"expand {say(e)}")


# Conventions for a control that opens a folded menu or section (not of any page): a plus,
# a hamburger, a kebab or meatball menu.
OPENERS = frozenset({"+", "☰", "≡", "⋮", "⋯", "…", "..."})


def opener(view: PageView) -> PageElement | None:
    """The visible control whose whole text is an opening symbol, when the page says
    nothing else about what is folded."""
    for e in view.elements:
        shown = (e.text or e.name).strip()
        if shown in OPENERS and e.box is not None and not e.disabled:
            return e
    return None


@skill("focus")
def focus(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if clicked(own):
        return None
    fields = ctx.view.fields()
    if not fields:
        return explore("a text field", ctx, own)
    n = step.ordinal or 1
    f = fields[n - 1] if 0 < n <= len(fields) else fields[-1]
    return Intent(action="click", element=f.id, reason=f"focus field #{n}: {say(f)}")


@skill("click_nth")
def click_nth(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    """The n-th widget of a kind ("the 3rd radio button"), or the n-th result of a list
    that may be split into pages."""
    if any(h.ok and h.intent.reason.startswith(("result", "widget")) for h in own):
        return None
    view = ctx.view
    kind = step.kind_hint.replace("check box", "checkbox").replace("text field", "textbox")
    widgets = [e for e in view.elements if kind.split()[0] in kind_words(e) and not e.disabled]
    if kind.split()[0] in WIDGET_KINDS and widgets:
        n = step.ordinal
        e = widgets[n - 1] if 0 < n <= len(widgets) else widgets[-1]
        if e.role in ("checkbox", "radio"):
            if e.checked:
                return None
            return Intent(action="check", element=e.id, reason=f"widget #{n}: {say(e)}")
        return Intent(action="click", element=e.id, reason=f"widget #{n}: {say(e)}")
    links = [e for e in view.elements if e.role == "link" and describe_nav(e) is None]
    items = sorted(links, key=lambda e: (center(e)[1], center(e)[0]))
    if not items:
        return explore(step.kind_hint, ctx, own)
    page, size = 1, len(items)
    for h in own:
        if m := re.match(r"page (\d+) of size (\d+)", h.intent.reason):
            page, size = int(m.group(1)), int(m.group(2))
    n = step.ordinal if step.ordinal > 0 else len(items)
    want_page = math.ceil(n / size)
    if want_page == page and 0 < n - (page - 1) * size <= len(items):
        e = items[n - (page - 1) * size - 1]
        return Intent(action="click", element=e.id, reason=f"result #{n}: {say(e)}")
    navs = [e for e in view.elements if describe_nav(e) is not None]
    target = next((e for e in navs if describe_nav(e) == str(want_page)), None)
    if target is None:
        target = next((e for e in navs if describe_nav(e) in ("next", ">", "»")), None)
        want_page = page + 1
    if target is None:
        return Intent(action="fail", reason=f"only {len(items)} results and no next page")
    return Intent(action="click", element=target.id, reason=f"page {want_page} of size {size}")


def control_beside(view: PageView, label: PageElement) -> PageElement | None:
    """The control a label names ("Phone:" -> the link right of it); None when `label` is
    not a label (a control itself, or text that does not end with a colon)."""
    text = (label.text or label.name).strip()
    if label.role in INTERACTIVE or not text.endswith(":") or label.box is None:
        return None
    lx, ly = label.box.x + label.box.w / 2, center(label)[1]
    near = [
        e
        for e in view.elements
        if (e.role in INTERACTIVE or e.tag in ("a", "button", "select"))
        and e is not label
        and e.box is not None
        and abs(center(e)[1] - ly) <= max(e.box.h, label.box.h) / 2 + 4
        and center(e)[0] > lx
    ]
    return min(near, key=lambda e: center(e)[0] - lx) if near else None


def describe_nav(e: PageElement) -> str | None:
    t = norm(e.name or e.text)
    if t.isdigit() or t in NAV_TEXT or (e.text or e.name).strip() in NAV_TEXT:
        return t or (e.text or e.name).strip()
    return None

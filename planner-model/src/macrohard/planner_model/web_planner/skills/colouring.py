"""Colour text in a rich-text editor: "give the text X the color red", "make everything the
colour blue", "colour the word X green", "change the color of X to purple".

Select the words in the editor (`select_text`; all of it for "everything"), open the
editor's colour control (a toolbar control named for colour or a picker, unless its
swatches already show), then click the swatch nearest the named CSS colour. Done when the
observation shows the words in a colour of that name (`styles` holds `color:#rrggbb` inside
editable content), or once a swatch was clicked on the selection.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, restore
from macrohard.planner_model.web_planner.page import PageView, inside
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.skills.styling import editor_of
from macrohard.planner_model.web_planner.skills.visual import CSS_COLORS, color_name

_COLOUR = r"colou?r(?:ed)?"
_IN_EDITOR = r"(?:(?:using|in|with)\s+the\s+(?:(?:rich[- ])?text\s+)?editor,?\s+)?"
_PATTERNS = (
    re.compile(
        rf"{_IN_EDITOR}(?:give|make|set|turn|paint)\s+(?:the\s+(?:text|word|words)\s+)?(.+?)\s+(?:the\s+)?{_COLOUR}\s+(\w+)$",
        re.I,
    ),
    re.compile(
        rf"{_IN_EDITOR}(?:make|turn|paint)\s+(?:the\s+(?:text|word|words)\s+)?(.+?)\s+(\w+)$",
        re.I,
    ),
    re.compile(
        rf"{_IN_EDITOR}{_COLOUR}\s+(?:the\s+(?:text|word|words)\s+)?(.+?)\s+(?:in\s+)?(\w+)$",
        re.I,
    ),
    re.compile(
        rf"{_IN_EDITOR}change\s+the\s+{_COLOUR}\s+of\s+(?:the\s+(?:text|word|words)\s+)?(.+?)\s+to\s+(\w+)$",
        re.I,
    ),
)
EVERYTHING = frozenset({"everything", "all", "all the text", "all text", "the whole text"})
_CONTROL = re.compile(r"colou?r|picker|palette|swatch", re.I)


@clause(27)
def colour_clause(c: str, q: list[str]) -> list[Step] | None:
    for pattern in _PATTERNS:
        m = pattern.match(c)
        if m is None or not color_name(m.group(2)):
            continue
        words = restore(m.group(1), q).strip()
        everything = words.lower() in EVERYTHING
        return [
            Step(
                kind="color_text", target="" if everything else words, value=color_name(m.group(2))
            )
        ]
    return None


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def distance(hex_color: str, name: str) -> int:
    return sum((a - b) ** 2 for a, b in zip(_rgb(hex_color), CSS_COLORS[name], strict=True))


def swatches(view: PageView) -> list[PageElement]:
    """Colour swatches shown (a palette, an open picker): text-less coloured boxes, which
    the editor's own text never is (an open picker may lie over the editor)."""
    return [
        e
        for e in view.elements
        if e.shape == "box" and not e.text and re.fullmatch(r"#[0-9a-f]{6}", e.color)
    ]


def _coloured(e: PageElement, name: str) -> bool:
    colours = [s.split(":", 1)[1] for s in e.styles if s.startswith("color:")]
    return any(min(CSS_COLORS, key=lambda n: distance(c, n)) == name for c in colours)


@skill("color_text")
def color_text(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    editor = editor_of(view)
    if editor is None:
        return Intent(action="fail", reason="no rich-text editor on the page")
    parts = [e for e in view.elements if e is not editor and inside(e, editor) and e.text]
    wanted = [e for e in parts if not step.target or e.text.strip() == step.target]
    if wanted and all(_coloured(e, step.value) for e in wanted):
        return None
    if any(h.ok and h.intent.reason.startswith("swatch") for h in own) or len(own) >= 5:
        return None
    if not any(h.ok and h.intent.action == "select_text" for h in own):
        return Intent(
            action="select_text",
            element=editor.id,
            text=step.target or None,
            reason=f"select {step.target or 'everything'} in {say(editor)}",
        )
    shown = swatches(view)
    if shown:
        best = min(shown, key=lambda e: distance(e.color, step.value))
        return Intent(
            action="click", element=best.id, reason=f"swatch {best.color} for {step.value}"
        )
    tried = {h.intent.element for h in own if h.intent.action == "click"}
    controls = [
        e
        for e in view.elements
        if _CONTROL.search(e.name) and not inside(e, editor) and e.id not in tried
    ]
    if not controls:
        return Intent(action="fail", reason="no colour control beside the editor")
    return Intent(
        action="click", element=controls[0].id, reason=f"open the colours: {say(controls[0])}"
    )

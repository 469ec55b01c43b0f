"""Rich-text editing: "give the text X the style bold", "make everything italic",
"underline the word X".

Select the words in the editor (`select_text`; all of it for "everything"), then the
editor's own keyboard shortcut for the style (Control+b / i / u, what every rich-text editor
answers). Done when the observation shows the words with that style (`styles`), or once the
shortcut was pressed on the selection.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, restore
from macrohard.planner_model.web_planner.page import PageView, inside
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill

STYLES = {
    "bold": ("bold", "Control+b"),
    "italic": ("italic", "Control+i"),
    "italics": ("italic", "Control+i"),
    "underline": ("underline", "Control+u"),
    "underlined": ("underline", "Control+u"),
}
_GIVE = re.compile(
    r"(?:using\s+the\s+text\s+editor,?\s+)?give\s+(?:the\s+text\s+)?(.+?)\s+the\s+style\s+(\w+)$",
    re.I,
)
_MAKE = re.compile(r"make\s+(?:the\s+text\s+)?(.+?)\s+(bold|italics?|underlined)$", re.I)


@clause(28)
def style_clause(c: str, q: list[str]) -> list[Step] | None:
    m = _GIVE.match(c) or _MAKE.match(c)
    if m is None or m.group(2).lower() not in STYLES:
        return None
    # The words as written, punctuation included: "Neque," is not "Neque".
    words = restore(m.group(1), q).strip()
    everything = words.lower() in ("everything", "all", "all the text", "all text")
    return [Step(kind="style_text", target="" if everything else words, value=m.group(2).lower())]


def editor_of(view: PageView) -> PageElement | None:
    editors = [
        e for e in view.elements if e.role == "textbox" and e.tag not in ("input", "textarea")
    ]
    return max(editors, key=lambda e: len(e.value or ""), default=None)


@skill("style_text")
def style_text(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    style, chord = STYLES[step.value]
    editor = editor_of(ctx.view)
    if editor is None:
        return Intent(action="fail", reason="no rich-text editor on the page")
    parts = [e for e in ctx.view.elements if e is not editor and inside(e, editor) and e.text]
    # The words alone in an element of their own (the editor wrapped them when styling),
    # or, for everything, every piece of text in the editor.
    wanted = [e for e in parts if not step.target or e.text.strip() == step.target]
    if wanted and all(style in e.styles for e in wanted):
        return None
    if any(h.ok and h.intent.action == "press" for h in own) or len(own) >= 4:
        return None
    selected = [h for h in own if h.ok and h.intent.action == "select_text"]
    if not selected:
        return Intent(
            action="select_text",
            element=editor.id,
            text=step.target or None,
            reason=f"select {step.target or 'everything'} in {say(editor)}",
        )
    return Intent(action="press", keys=chord, reason=f"make the selection {style}")

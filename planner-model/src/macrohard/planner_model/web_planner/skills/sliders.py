"""Numeric widgets: sliders, spinners and steppers set to the numbers the goal gives.

"Select 42 with the slider", "Set the sliders to the combination [3, 7, 1]", "set the
volume slider to 30": one `set_value` per widget, in page order. The actuator walks the
widget with its keyboard steps and reads the value back; a slider with no value of its own
(a script-drawn handle) is read from the number shown next to it.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause
from macrohard.planner_model.web_planner.page import PageView, center
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.text import ordinal

NUMBER = r"[-+]?\d+(?:\.\d+)?"
WIDGET = r"(?:slider|spinner|stepper|range|knob)s?"
_WITH = re.compile(
    rf"(?:select|set|choose|pick|enter|get)\s+({NUMBER})\s+(?:with|on|using|in)\s+"
    rf"(?:the\s+)?(?:(\w+)\s+)?{WIDGET}$",
    re.I,
)
_TO = re.compile(
    rf"(?:set|move|slide|drag|adjust|change|put|turn)\s+(?:the\s+)?(?:(\w+)\s+)?{WIDGET}\s+"
    rf"(?:to|at)\s+(.+)$",
    re.I,
)


@clause(25)
def slider_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Select 42 with the slider'; 'set the 2nd slider to 5'; 'set the sliders to [1,2]'."""
    if m := _WITH.match(c):
        return [Step(kind="slide", values=[m.group(1)], ordinal=_nth(m.group(2)))]
    if m := _TO.match(c):
        values = re.findall(NUMBER, m.group(2))
        if values:
            return [Step(kind="slide", values=values, ordinal=_nth(m.group(1)))]
    return None


def _nth(word: str | None) -> int:
    return (ordinal(word) or 0) if word else 0


def sliders(view: PageView) -> list[PageElement]:
    """The numeric widgets a person would drag or step, in reading order."""
    out = [
        e
        for e in view.elements
        if not e.disabled
        and (
            e.role in ("slider", "spinbutton")
            or (not e.text and re.search(r"\b(slider|handle|knob|thumb)\b", e.name, re.I))
        )
    ]
    return sorted(out, key=lambda e: (round(center(e)[1] / 10), center(e)[0]))


def shown_value(view: PageView, widget: PageElement) -> PageElement | None:
    """The number displayed for a widget that has no value of its own: the first number
    after it on the page, else the nearest number."""
    numbers = [e for e in view.elements if re.fullmatch(NUMBER, (e.text or "").strip())]
    order = [e.id for e in view.elements]
    after = [e for e in numbers if order.index(e.id) > order.index(widget.id)]
    if after:
        return after[0]
    cx, cy = center(widget)
    near = sorted(numbers, key=lambda e: abs(center(e)[0] - cx) + abs(center(e)[1] - cy))
    return near[0] if near else None


@skill("slide")
def slide(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    widgets = sliders(ctx.view)
    if step.ordinal:
        widgets = widgets[step.ordinal - 1 : step.ordinal]
    if not widgets:
        return Intent(action="fail", reason="no slider or spinner on the page")
    for widget, value in zip(widgets, step.values, strict=False):
        done = any(
            h.ok and h.intent.action == "set_value" and h.intent.element == widget.id for h in own
        )
        tried = sum(h.intent.element == widget.id for h in own)
        if done or tried >= 2:
            continue
        own_value = widget.value not in (None, "")
        shown = None if own_value else shown_value(ctx.view, widget)
        if (shown or widget).text.strip() == value or (own_value and widget.value == value):
            continue
        return Intent(
            action="set_value",
            element=widget.id,
            target_element=shown.id if shown is not None else None,
            text=value,
            reason=f"set {say(widget)} to {value}",
        )
    return None

"""Values the goal only points at: "the value of Language" is what the page shows beside
the word Language (a table row, a definition list, a label and its value)."""

from __future__ import annotations

from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.page import FIELD_ROLES, PageView, center
from macrohard.planner_model.web_planner.text import norm

EACH_LABEL = "*each field's label*"  # Step.lookup: every field takes the value of its label
SHOWN = "*the text shown*"  # Step.lookup: the field takes the text the page shows above it


def value_beside(view: PageView, key: str) -> str | None:
    """The text just right of (same row) a text reading `key`, e.g. the cell after a row
    header. Among several texts reading `key`, the first that has such a neighbour."""
    right = element_beside(view, key)
    return None if right is None else (right.text or right.name).strip()


def element_beside(view: PageView, key: str) -> PageElement | None:
    """The element that shows `value_beside(view, key)`."""
    want = norm(key).rstrip(":").strip()
    if not want:
        return None
    for e in view.elements:
        if e.role in FIELD_ROLES or norm(e.text or e.name).rstrip(":").strip() != want:
            continue
        right = _right_of(view, e)
        if right is not None:
            return right
    return None


def _right_of(view: PageView, e: PageElement) -> PageElement | None:
    if e.box is None:
        return None
    best: tuple[float, PageElement] | None = None
    for o in view.elements:
        if o is e or o.box is None or not (o.text or o.name) or o.role in FIELD_ROLES:
            continue
        if abs(center(o)[1] - center(e)[1]) > max(e.box.h, 8) / 2:
            continue
        gap = o.box.x - (e.box.x + e.box.w)
        if gap >= -2 and (best is None or gap < best[0]):
            best = (gap, o)
    return best[1] if best else None


def shown_above(view: PageView, field: PageElement) -> str | None:
    """The line of text the page shows just above a field ("type the text below"): its
    pieces left to right, joined without spaces when they are single letters (a captcha)."""
    if field.box is None:
        return None
    above = [
        e
        for e in view.elements
        if e.box is not None
        and (e.text or "").strip()
        and e.role not in FIELD_ROLES
        and e.role not in ("button", "link")
        and e.box.y + e.box.h <= field.box.y + 2
        # Over the field, not beside it (a side panel of its own).
        and e.box.x < field.box.x + field.box.w
        and e.box.x + e.box.w > field.box.x
    ]
    if not above:
        return None
    lowest = max(above, key=lambda e: center(e)[1])
    line = [e for e in above if abs(center(e)[1] - center(lowest)[1]) <= 12]
    pieces = [(e.text or "").strip() for e in sorted(line, key=lambda e: center(e)[0])]
    return ("" if all(len(p) <= 2 for p in pieces) else " ").join(pieces)

"""Dates in calendar widgets: open the picker, walk months with its previous/next controls,
click the day. For a date field that will not take typing (read-only, script-driven)."""

from __future__ import annotations

import re
from datetime import date

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.page import PageView, center

MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
]  # fmt: skip
PREV_WORDS = frozenset({"prev", "previous", "<", "«", "\u2039", "back"})
NEXT_WORDS = frozenset({"next", ">", "»", "\u203a", "forward"})


def parse_date(value: str) -> date | None:
    """'12/24/2016' (month first, as people in the US write it) or ISO '2016-12-24'."""
    if m := re.fullmatch(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*", value):
        month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*", value):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def shown_month(view: PageView) -> tuple[int, int, PageElement] | None:
    """(year, month, the heading element) of the month a calendar shows, if one is open."""
    for e in view.elements:
        text = (e.text or e.name).strip().lower()
        words = text.split()
        if not words or words[0] not in MONTHS:
            continue
        month = MONTHS.index(words[0]) + 1
        if len(words) == 2 and words[1].isdigit() and len(words[1]) == 4:
            return int(words[1]), month, e
        if len(words) == 1:  # the year sits beside the month name
            for o in view.elements:
                t = (o.text or o.name).strip()
                if (
                    re.fullmatch(r"\d{4}", t)
                    and abs(center(o)[1] - center(e)[1]) < 8
                    and 0 <= center(o)[0] - center(e)[0] < 120
                ):
                    return int(t), month, e
    return None


def _control(view: PageView, words: frozenset[str]) -> PageElement | None:
    """The calendar's previous/next control: interactive if the page says so, else the
    text that shows it (a click on it reaches the handler of what it sits in)."""
    found = [
        e for e in view.elements if (e.name or e.text).strip().lower() in words and not e.disabled
    ]
    found.sort(key=lambda e: e.role not in ("link", "button"))
    return found[0] if found else None


def pick_date(want: date, field: PageElement, view: PageView) -> Intent:
    """The next click towards `want` in the field's calendar (opening it first)."""
    shown = shown_month(view)
    if shown is None:
        return Intent(action="click", element=field.id, reason="open the date picker")
    year, month, heading = shown
    if (year, month) != (want.year, want.month):
        later = (want.year, want.month) > (year, month)
        control = _control(view, NEXT_WORDS if later else PREV_WORDS)
        if control is None:
            return Intent(action="fail", reason="the calendar has no previous/next control")
        return Intent(
            action="click",
            element=control.id,
            reason=f"calendar shows {MONTHS[month - 1]} {year}: "
            f"{'next' if later else 'previous'} month",
        )
    days = [
        e
        for e in view.elements
        if (e.text or e.name).strip() == str(want.day) and center(e)[1] > center(heading)[1]
    ]
    if not days:
        return Intent(action="fail", reason=f"day {want.day} is not in the calendar")
    # Interactive days first (a link or button inside a cell).
    day = sorted(days, key=lambda e: e.role not in ("link", "button"))[0]
    return Intent(action="click", element=day.id, reason=f"pick day {want.day}")

"""Dates in fields: a field that refuses typing is set with its calendar (datepicker.py);
a date input that wants another form of the date gets the ISO form."""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.datepicker import parse_date, pick_date
from macrohard.planner_model.web_planner.page import PageView
from macrohard.planner_model.web_planner.skills.base import PastStep


def date_by_picker(
    value: str, f: PageElement, view: PageView, own: list[PastStep]
) -> Intent | None:
    """A date field that refused typing is set with its calendar; `done` once it shows the
    date. None: not a date, or the field takes typing."""
    want = parse_date(value)
    # Refused outright (read-only: typing timed out), not merely malformed: a date input
    # that wants another form of the date is retried in ISO form instead.
    refused = any(
        not h.ok
        and h.intent.action == "type"
        and h.intent.element == f.id
        and "malformed" not in h.error.lower()
        for h in own
    )
    if want is None or not refused:
        return None
    if parse_date(f.value or "") == want:
        return Intent(action="done", reason="the field shows the date")
    if sum(1 for h in own if h.intent.reason.startswith(("calendar", "pick day"))) > 40:
        return None
    return pick_date(want, f, view)


def as_field_value(value: str, f: PageElement, rejected: bool = False) -> str:
    """A date input takes ISO dates; people write them month/day/year. A field known to be a
    date input, or one that rejected the value as malformed, gets the ISO form."""
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value.strip())
    if m and ("date" in f.role or rejected):
        return f"{m.group(3)}-{int(m.group(1)):02d}-{int(m.group(2)):02d}"
    return value

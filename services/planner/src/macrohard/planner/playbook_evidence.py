"""What a recorded step rests on: why it acted on its element, and what it changed.

A replay is only as good as the reasons of the run it repeats. Two questions decide whether
a recorded step may be done again on a new page, and whether it worked:

- **Why this element** (`chosen_by`): a goal value in its label ("value": found again by the
  new value), the goal's own words in its label ("words"), the only element of its role on
  the page ("only": no choice was made), or none of these: the page alone chose it among
  others of its role ("page": the answer of a read-the-page goal, the shape the page drew,
  the row beside the wanted sender). A page-chosen element is the model's to choose again,
  unless the page shows exactly what the recorded one did (`page_digest`).
- **What it changed** (`step_results`): the field now holds the typed text, the box is now
  checked, the page moved, the element left, an element of a role not shown before
  appeared. After a step is replayed the new page must show the same (`result_held`), else
  the model takes over.

Pure functions only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from macrohard.contracts.agent import ChosenBy, Intent, StepResult
from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.planner_model.web_planner.page import PageView

_WORD = re.compile(r"\w+")


def site_of(url: str) -> str:
    """The page a URL names, without its query: two runs of one form share a site."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def swap(text: str, old: Sequence[str], new: Sequence[str]) -> str:
    """`text` with each old goal value replaced by the new goal's value in its slot."""
    pairs = sorted(
        ((o, n) for o, n in zip(old, new, strict=True) if o and o != n),
        key=lambda p: -len(p[0]),
    )
    if not pairs:
        return text
    # One pass over all old values at once, so a new value is never replaced again.
    pattern = re.compile("|".join(re.escape(o) for o, _ in pairs))
    lookup = dict(pairs)
    return pattern.sub(lambda m: lookup[m.group(0)], text)


def own_words(observation: PageObservation, e: PageElement) -> str:
    """What names an element to a person: its own name, text or value, else the text
    beside it (a nameless field's label)."""
    return e.name or e.text or e.value or PageView(observation, "").label(e)


def chosen_by(
    goal: str, slots: Sequence[str], observation: PageObservation, e: PageElement
) -> ChosenBy:
    """Why a step acted on `e`, decided on `observation` for `goal` (whose values are
    `slots`): see the module docstring."""
    folded = own_words(observation, e).casefold()
    if any(v and v.casefold() in folded for v in slots):
        return "value"
    # The others it was chosen among: those of its role a person could have acted on (the
    # icons of each inbox row hidden behind an open message were no choice).
    others = [
        o
        for o in observation.elements
        if o is not e and o.role == e.role and (_shown(o) or not _shown(e))
    ]
    said = set(_WORD.findall(goal.casefold()))
    if any(len(w) > 2 and not w.isdigit() and w in said for w in _WORD.findall(folded)):
        # The goal's words name it ('Verify password' for "the password into both fields",
        # 'Section #40' for "expand the section"), unless look-alikes differ only in their
        # numbers or not at all ('Item 3', 'Item 7'; a trash icon on each row): then the
        # page chose among them.
        counter = masked(folded)
        if not any(masked(own_words(observation, o).casefold()) == counter for o in others):
            return "words"
    return "page" if others else "only"


def masked(label: str) -> str:
    """A label with its numbers taken out: a page's own counters ('Section #40') vary."""
    return re.sub(r"\d+", "#", label)


def page_digest(observation: PageObservation) -> str:
    """All a page shows but ids and places (which change between renderings of one page):
    two equal digests are the same page content, so a choice it justified holds again."""
    seen = sorted(
        f"{e.role}|{e.name}|{e.text}|{e.value}|{e.checked}|{e.selected}|{e.shape}|{e.color}"
        for e in observation.elements
    )
    text = "\n".join([site_of(observation.url), observation.title, *seen])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def element_by_id(observation: PageObservation, element: int | None) -> PageElement | None:
    """The element of `observation` with id `element`, None if it has none."""
    return next((e for e in observation.elements if e.id == element), None)


def _shown(e: PageElement | None) -> bool:
    return e is not None and e.box is not None


def step_results(
    intent: Intent, before: PageObservation, after: PageObservation
) -> list[StepResult]:
    """What a step changed, from the page it was decided on and the page observed after it.
    Only what can be checked again on another rendering: values as the goal gave them,
    states, the page's address, an element leaving, a kind of element appearing."""
    if site_of(after.url) != site_of(before.url):
        return [StepResult(kind="page", value=site_of(after.url))]
    out: list[StepResult] = []
    was, now = element_by_id(before, intent.element), element_by_id(after, intent.element)
    if intent.element is not None and _shown(was) and not _shown(now):
        out.append(StepResult(kind="gone"))
    if now is not None:
        typed = intent.text if intent.action == "type" else None
        chosen = intent.values if intent.action == "select" else []
        if now.value is not None and (now.value == typed or now.value in chosen):
            out.append(StepResult(kind="value", value=now.value))
        if was is not None and now.checked is not None and now.checked != was.checked:
            out.append(StepResult(kind="checked", value=str(now.checked).lower()))
    # A kind of element the page did not show before (a dialog, a list of suggestions): a
    # role that only gained one more is left out, as pages add rows for reasons of their own.
    shown_before = {e.role for e in before.elements if _shown(e)}
    out.extend(
        StepResult(kind="appeared", value=role)
        for role in sorted({e.role for e in after.elements if _shown(e)} - shown_before)
    )
    return out


def result_held(
    result: StepResult,
    intent: Intent,
    after: PageObservation,
    old: Sequence[str],
    new: Sequence[str],
) -> bool:
    """Whether the page after a replayed `intent` shows what the recorded step's `result`
    was, with the recorded goal's values `old` swapped for this goal's `new`."""
    expected = swap(result.value, old, new)
    now = element_by_id(after, intent.element)
    if result.kind == "page":
        return site_of(after.url) == expected
    if result.kind == "gone":
        return not _shown(now)
    if result.kind == "value":
        return now is not None and now.value == expected
    if result.kind == "checked":
        return now is not None and str(now.checked).lower() == expected
    # appeared: an element of a role shown now (the recorded page had none before the step).
    return any(e.role == result.value and _shown(e) for e in after.elements)

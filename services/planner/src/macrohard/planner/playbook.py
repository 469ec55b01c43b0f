"""The agent learns from its log: replay a tenant's solved run for a goal of the same shape.

A goal's *shape* is the goal with its values taken out: quoted text, numbers and dates, and
capitalised words inside a sentence (names, labels) become slots, so
`Enter "Kim" into the Name field` and `Enter "Lee" into the City field` share the shape
`enter {} into the {} field`. When a run completes, its steps are kept as `RunLearned` on the
tenant's playbook aggregate for (site, shape). A later run of that shape on that site replays
them one at a time, each re-grounded on the current page:

- the page must be the one the step was taken on (same site and path), and the step before
  must have succeeded (the expected result of the previous step);
- the element is found again by the label it had (`button 'Submit'`), with the old goal's
  values swapped for the new goal's, and the same rank among elements carrying that label;
- typed text and chosen values get the same swap.

One principle decides what may be replayed: **a step is replayed for what the goal
justified, never for what the page alone decided** (`playbook_evidence`). Each recorded step
keeps why its element was chosen (a goal value in its label, the goal's own words, the only
one of its role, or the page alone among others: the answer of a read-the-page goal) and
what it changed on its page. A page-chosen step is the model's (one call) on any page or
goal but the recorded one, and the recording is rejoined after it (`resume_at`); after a
replayed step the page must show what the recorded step changed (`results_held`), else the
model takes over for the rest of the run, and a replayed `done` needs all of them to hold.

Where any check fails the page differs from the recording: the model is asked instead, and
the recording is rejoined only where the model's step is known to have served the goal step
(`resume_at`; its intents carry the plan steps the model understands).
Pure functions only: the handler reads the playbook from the log and appends what is learned.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import msgspec

from macrohard.contracts.agent import Intent, PlaybookStep, RunLearned
from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.planner.playbook_evidence import (
    chosen_by,
    element_by_id,
    masked,
    page_digest,
    site_of,
    step_results,
    swap,
)
from macrohard.planner.playbook_progress import (
    every_goal_step_served,
    pointed,
    results_held,
    resume_at,
    searching,
)
from macrohard.planner_model.web_planner.page import PageView

# Re-exported: the playbook's one face to the handler and its tests.
__all__ = ["every_goal_step_served", "results_held", "resume_at", "site_of", "swap"]

_QUOTED = r"\"[^\"]*\"|“[^”]*”|'[^']*'(?=\W|$)"
_NUMBER = r"[-+]?\$?\d+(?:[.,:/-]\d+)*%?"
# A capitalised word that does not start a sentence: a name or a label, i.e. a value.
_NAME = r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'-]*"
# A made-up token: letters with an upper-case letter after a lower-case one, or letters and
# digits mixed ("yMbdWAR", "x7Kq"): a value, whatever its place in the sentence.
_TOKEN = r"\b(?:\w*[a-z]\w*[A-Z]|\w*[A-Za-z]\w*\d|\w*\d\w*[A-Za-z])\w*\b"
_SLOT = re.compile(rf"{_QUOTED}|{_TOKEN}|{_NUMBER}|{_NAME}")


def goal_shape(goal: str) -> tuple[str, list[str]]:
    """(shape, slot values) of a goal; the shape is lower-case with `{}` for each value."""
    text = " ".join(goal.split())
    slots: list[str] = []

    def take(m: re.Match[str]) -> str:
        value = m.group(0)
        slots.append(value[1:-1] if value[:1] in "\"“'" else value)
        return "{}"

    shape = _SLOT.sub(take, text).lower()
    return shape, slots


def playbook_id(site: str, shape: str) -> str:
    """The tenant's playbook aggregate for one (site, shape); the tenant is in the subject."""
    return hashlib.sha256(f"{site}\n{shape}".encode()).hexdigest()[:32]


def element_label(e: PageElement) -> str:
    """How a decision names its element in the log (`button 'Submit'`)."""
    return f"{e.role} {(e.name or e.text or e.value or '')[:40]!r}"


def regrounding_key(observation: PageObservation, e: PageElement) -> str:
    """How a step's element is found again: its label as the log shows it, and for a
    nameless one (an unlabelled field, a bare radio) the text a person reads beside it."""
    label = element_label(e)
    if e.name or e.text or e.value:
        return label
    beside = PageView(observation, "").label(e)
    return f"{label} beside {beside[:40]!r}" if beside else label


def _nth(observation: PageObservation, element: int | None, key: str) -> int:
    same = [e.id for e in observation.elements if regrounding_key(observation, e) == key]
    return same.index(element) if element in same else 0


def learn(
    task_id: str,
    goal: str,
    start_url: str,
    decisions: Sequence[tuple[Intent, str, str, bool | None]],
    observations: dict[int, PageObservation],
) -> RunLearned | None:
    """What a completed run teaches: its steps after the start page, in order.

    `decisions`: (intent, element label, page url, ok) per step from step 1 on, the last
    being `done`; `observations[k]`: the page step k was decided on (so `observations[k + 1]`
    is the page after it). Steps that failed did nothing worth repeating and are left out.
    Each step keeps why its element was the one (`chosen_by`; for a choice the page alone
    made, the page's digest) and what it changed on its page (`results`). None when the run
    was not the model's own finish (nothing to learn from a run that did not end in `done`).
    """
    if not decisions or decisions[-1][0].action != "done":
        return None
    shape, slots = goal_shape(goal)
    steps = []
    for k, (intent, label, page_url, ok) in enumerate(decisions, start=1):
        if ok is False:
            continue
        obs, after = observations.get(k), observations.get(k + 1)
        seen = element_by_id(obs, intent.element) if obs else None
        step = PlaybookStep(intent=intent, element_label=label, page_url=page_url)
        if obs is not None and seen is not None:
            label = regrounding_key(obs, seen)
            why = chosen_by(goal, slots, obs, seen)
            step = msgspec.structs.replace(
                step,
                element_label=label,
                nth=_nth(obs, intent.element, label),
                chosen_by=why,
                page_digest=page_digest(obs) if why == "page" else "",
            )
        if obs is not None and after is not None and intent.action not in ("done", "fail"):
            step = msgspec.structs.replace(step, results=step_results(intent, obs, after))
        steps.append(step)
    return RunLearned(
        task_id=task_id, site=site_of(start_url), shape=shape, slots=slots, steps=steps
    )


def _own_label(label: str) -> str:
    """An element's label without the text beside it: a value read beside a field (the
    goal a page shows next to it) did not choose the field."""
    return label.split(" beside ", 1)[0]


def _uses_a_value(step: PlaybookStep, values: Sequence[str]) -> bool:
    held = [_own_label(step.element_label), step.intent.text or "", *step.intent.values]
    return any(v and v in h for v in values for h in held)


def _derived_from_changed_values(learned: RunLearned, slots: Sequence[str]) -> bool:
    """Whether a value that changed was never used as written (an ordinal that chose a
    page of results, a number that was computed with): the run's steps after the ones
    that use values as written may depend on it, so they are the model's to redo."""
    changed = [o for o, n in zip(learned.slots, slots, strict=True) if o != n]
    return any(not any(_uses_a_value(s, [o]) for s in learned.steps) for o in changed)


def _legacy_look_alikes(
    step: PlaybookStep, values: Sequence[str], observation: PageObservation
) -> bool:
    """For a step recorded before `chosen_by` was kept: whether its element holds no goal
    value while the page holds others of its role (what `chosen_by` == "page" now says)."""
    own = _own_label(step.element_label)
    if step.intent.element is None or any(v and v in own for v in values):
        return False
    role = step.element_label.split(" ", 1)[0]
    return sum(1 for e in observation.elements if e.role == role) > 1


def _the_only_one(observation: PageObservation, role: str) -> list[PageElement]:
    """The one element of `role` a person can act on here (or the one there is at all)."""
    alike = [e for e in observation.elements if e.role == role]
    shown = [e for e in alike if e.box is not None]
    return shown if len(shown) == 1 else alike if len(alike) == 1 else []


def _after_a_goal_step_its_page_had_done(learned: RunLearned, index: int) -> bool:
    """Whether the recording came to step `index` past a goal step it took no action for:
    its page already showed that goal step done (a price already below the limit, an option
    already chosen), so taking this step *then* was the page's call, not the goal's."""
    intent = learned.steps[index].intent
    if intent.plan_step is None or intent.action in ("done", "fail"):
        return False
    earlier = [s.intent.plan_step for s in learned.steps[:index] if s.intent.plan_step is not None]
    return intent.plan_step > max(earlier, default=-1) + 1


_SECRET = re.compile(r"\{\{secret:[^}]*\}\}")


def _written_in(goal: str, text: str) -> bool:
    """Whether typed text comes from the goal itself (or is a secret the actuator fills in),
    rather than from the page it was typed on."""
    rest = " ".join(_SECRET.sub(" ", text).split()).casefold()
    return not rest or rest in " ".join(goal.split()).casefold()


def spelled(keys: str) -> str:
    """The text a key sequence types ("l s Space - a Enter" -> "ls -a"); "" for keys that
    type fewer than two characters (a chord, Enter, an arrow)."""
    chars = [" " if k == "Space" else k for k in keys.split() if len(k) == 1 or k == "Space"]
    return "".join(chars).strip() if len(chars) >= 2 else ""


def replay(
    learned: RunLearned,
    goal: str,
    replayed_so_far: int,
    observation: PageObservation,
    previous_ok: bool | None,
    resumed: bool = False,
) -> Intent | None:
    """The next recorded step, re-grounded on this page; None when the page differs or the
    step rests on what the page alone decided. `resumed`: the model took an earlier step
    (see `resume_at`), so values it derived differently are its own already.

    The page-chosen rule (`chosen_by`) subsumes the earlier special cases of an element
    chosen by an ordinal among look-alikes, a value read beside a field, an answer the page
    showed, and a step taken once the page already showed a goal step done. Kept, as it does
    not cover them: typed text and spelled keys not written in the goal (read off the old
    page: the same principle for values); a changed value never used as written, for steps
    without an element (a wait's length); search loops; drags and points; look-alikes in
    view of the very same label (the rank the page chose); nameless look-alikes."""
    shape, slots = goal_shape(goal)
    if shape != learned.shape or len(slots) != len(learned.slots):
        return None
    if previous_ok is False or replayed_so_far >= len(learned.steps):
        return None
    step = learned.steps[replayed_so_far]
    if step.page_url and site_of(step.page_url) != site_of(observation.url):
        return None
    if searching(step.intent):
        # The recording pressed on until its page showed what was wanted; how often this
        # page needs it is for the model to see (a number generated until it is even).
        return None
    if any(pointed(s.intent) for s in learned.steps if s.intent.plan_step == step.intent.plan_step):
        # A second element (a drop target, a value display) or a point on the page: only
        # the acted-on element is re-grounded, so the model decides this step again, and
        # the rest of its goal step with it (those steps share what the model noted, such
        # as where things were before they moved).
        return None
    if _after_a_goal_step_its_page_had_done(learned, replayed_so_far):
        return None  # acting *now* was the page's call (a price already low enough)
    if step.chosen_by == "page" and (
        slots != learned.slots or step.page_digest != page_digest(observation)
    ):
        # The page alone chose the element (the shape it drew, the answer it showed, the
        # row beside the wanted sender, the field an ordinal counted to): for another goal
        # or on a page that shows anything else, the model chooses again; the recording is
        # rejoined after its one step (`resume_at`).
        return None
    derived = _derived_from_changed_values(learned, slots)
    # A changed value never used as written (a delay turned into a wait, an ordinal): a
    # step without an element whose choice says why it was made (`chosen_by`) may carry it
    # (a wait's length), so it is the model's to redo.
    bare = step.intent.element is None or not step.chosen_by
    if derived and not resumed and bare and not _uses_a_value(step, learned.slots):
        return None
    if derived and not step.chosen_by and _legacy_look_alikes(step, learned.slots, observation):
        return None  # recorded before `chosen_by` was kept: the rule it replaced
    intent = step.intent
    reason = intent.reason if intent.reason.startswith("replay: ") else f"replay: {intent.reason}"
    changes: dict[str, object] = {"reason": reason[:300]}
    if intent.element is not None:
        label = swap(step.element_label, learned.slots, slots)
        same = [e for e in observation.elements if regrounding_key(observation, e) == label]
        nth = step.nth
        if not same and step.chosen_by == "only":
            # No label chose it (a list showing its current value, an unnamed field): the one
            # element of its role here is the one, as it was there.
            same, nth = _the_only_one(observation, step.element_label.split(" ", 1)[0]), 0
        if not same and nth == 0 and masked(label) != label:
            # Not there as written: the one element whose label differs only in its numbers.
            same = [
                e
                for e in observation.elements
                if masked(regrounding_key(observation, e)) == masked(label)
            ]
            if len(same) != 1:
                return None
        if nth >= len(same):
            return None
        if len(same) > 1 and label.endswith("''"):
            return None  # nameless look-alikes: which one was meant is not on the page
        shown = [e for e in same if e.box is not None]
        if len(shown) > 1 and not any(v and v in _own_label(label) for v in slots):
            # Look-alikes in view that no goal value tells apart ('Odd' beside each number):
            # which one the recording took followed from its page; the model reads this one.
            # (Hidden ones, such as each inbox row's icons behind an open message, are not.)
            return None
        changes["element"] = same[nth].id
    if intent.text is not None:
        # Typed text that holds none of the old goal's values was derived from them some
        # other way (a date rewritten, a value read off the page): the model redoes it.
        if slots != learned.slots and not any(o and o in intent.text for o in learned.slots):
            return None
        text = swap(intent.text, learned.slots, slots)
        if not _written_in(goal, text):
            # Not in the goal as written: read off the old page (a word copied, a sum, the
            # value a table showed), so this page may want another; the model redoes it.
            return None
        changes["text"] = text
    typed = spelled(intent.keys or "") if intent.action == "press" else ""
    if typed and not _written_in(goal, swap(typed, learned.slots, slots)):
        # Keys that spell text (a command typed into a terminal) are typed text, and may have
        # been read off the old page (a file name from a listing): the model types them again.
        return None
    if intent.values:
        changes["values"] = [swap(v, learned.slots, slots) for v in intent.values]
    if intent.url is not None:
        changes["url"] = swap(intent.url, learned.slots, slots)
    return msgspec.structs.replace(intent, **changes)

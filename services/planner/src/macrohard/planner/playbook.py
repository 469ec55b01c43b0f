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

Where any check fails the page differs from the recording: the model is asked instead, and
from then on the run is the model's (its intents carry the plan steps the model understands).
Pure functions only: the handler reads the playbook from the log and appends what is learned.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import msgspec

from macrohard.contracts.agent import Intent, PlaybookStep, RunLearned
from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.planner_model.web_planner import SEARCH
from macrohard.planner_model.web_planner.page import PageView

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


def site_of(url: str) -> str:
    """The page a URL names, without its query: two runs of one form share a site."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def playbook_id(site: str, shape: str) -> str:
    """The tenant's playbook aggregate for one (site, shape); the tenant is in the subject."""
    return hashlib.sha256(f"{site}\n{shape}".encode()).hexdigest()[:32]


def element_label(e: PageElement) -> str:
    """How a decision names its element in the log (`button 'Submit'`)."""
    return f"{e.role} {(e.name or e.text or e.value or '')[:40]!r}"


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
    being `done`; `observations[k]`: the page step k was decided on. Steps that failed did
    nothing worth repeating and are left out. None when the run was not the model's own
    finish (nothing to learn from a run that did not end in `done`).
    """
    if not decisions or decisions[-1][0].action != "done":
        return None
    shape, slots = goal_shape(goal)
    steps = []
    for k, (intent, label, page_url, ok) in enumerate(decisions, start=1):
        if ok is False:
            continue
        obs = observations.get(k)
        seen = next((e for e in obs.elements if e.id == intent.element), None) if obs else None
        if obs is not None and seen is not None:
            label = regrounding_key(obs, seen)
        nth = _nth(obs, intent.element, label) if obs is not None and label else 0
        steps.append(PlaybookStep(intent=intent, element_label=label, nth=nth, page_url=page_url))
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


def _chosen_among_look_alikes(
    step: PlaybookStep, values: Sequence[str], observation: PageObservation
) -> bool:
    """Whether the step acts on an element its label does not find by a goal value, while
    the page holds other elements of its role: which one was meant may follow from a value."""
    own = _own_label(step.element_label)
    if step.intent.element is None or any(v and v in own for v in values):
        return False
    role = step.element_label.split(" ", 1)[0]
    return sum(1 for e in observation.elements if e.role == role) > 1


def resume_at(
    learned: RunLearned, decided: Sequence[tuple[Intent, bool, bool | None]]
) -> tuple[int, bool] | None:
    """Which recorded step comes next, given this run's decisions so far (intent, replayed,
    ok), and whether the model has taken over a step on the way; None: none may come now.

    Replayed decisions walk the recording one by one. Where the page differed the model took
    the step; the recording is rejoined at the first step of a later goal step (plan step)
    once the model has served the differing goal step as the recording did: as many
    successful actions, the last one of the same kind (a typed date that needed its
    calendar instead is not the recording's, and the run stays the model's meanwhile).
    """
    taken = [k for k, (_, replayed, _) in enumerate(decided) if not replayed]
    if not taken:
        return len(decided), False
    last = taken[-1]
    intent, plan = decided[last][0], decided[last][0].plan_step
    if plan is None or _searching(intent) or _pointed(intent):
        # A step of the model's search (press until the page shows what is wanted), or a
        # drag or a point (a list sorted one move at a time): only the model's next look
        # at the page says whether that goal step is over.
        return None
    recorded = [s for s in learned.steps if s.intent.plan_step == plan]
    served = [i for i, _, ok in decided[: last + 1] if i.plan_step == plan and ok is not False]
    if len(recorded) != 1 or len(served) != 1:
        # Only a one-for-one step (a value typed another way) is known to be served: where
        # the recording took several actions (a calendar walked month by month) how many the
        # new value needs depends on it, and an equal count says nothing; the model goes on.
        return None
    if intent.action != recorded[-1].intent.action:
        return None
    later = [
        k
        for k, s in enumerate(learned.steps)
        if s.intent.plan_step is not None and s.intent.plan_step > plan
    ]
    # Steps replayed since the model's last one walk on from where the recording was rejoined.
    return (later[0] + len(decided) - last - 1, True) if later else None


_SECRET = re.compile(r"\{\{secret:[^}]*\}\}")


def _written_in(goal: str, text: str) -> bool:
    """Whether typed text comes from the goal itself (or is a secret the actuator fills in),
    rather than from the page it was typed on."""
    rest = " ".join(_SECRET.sub(" ", text).split()).casefold()
    return not rest or rest in " ".join(goal.split()).casefold()


def _pointed(intent: Intent) -> bool:
    """A step with a second element or a point: more than its element to re-ground."""
    return intent.target_element is not None or intent.x is not None


def spelled(keys: str) -> str:
    """The text a key sequence types ("l s Space - a Enter" -> "ls -a"); "" for keys that
    type fewer than two characters (a chord, Enter, an arrow)."""
    chars = [" " if k == "Space" else k for k in keys.split() if len(k) == 1 or k == "Space"]
    return "".join(chars).strip() if len(chars) >= 2 else ""


def every_goal_step_served(
    learned: RunLearned, decided: Sequence[tuple[Intent, bool, bool | None]]
) -> bool:
    """Whether this run did, with success, something for every goal step (plan step) the
    recording did before its `done`: a replayed `done` must never end a run that skipped
    one (a form submitted without its select is a false completion)."""
    wanted = {
        s.intent.plan_step
        for s in learned.steps
        if s.intent.plan_step is not None and s.intent.action not in ("done", "fail")
    }
    served = {i.plan_step for i, _, ok in decided if i.plan_step is not None and ok is not False}
    return wanted <= served


def _searching(intent: Intent) -> bool:
    """A step the model took in a search loop: what it did next depended on the page."""
    return intent.reason.removeprefix("replay: ").startswith(SEARCH)


def _masked(label: str) -> str:
    """A label with its numbers taken out: a page's own counters ('Section #40') vary."""
    return re.sub(r"\d+", "#", label)


def replay(
    learned: RunLearned,
    goal: str,
    replayed_so_far: int,
    observation: PageObservation,
    previous_ok: bool | None,
    resumed: bool = False,
) -> Intent | None:
    """The next recorded step, re-grounded on this page; None when the page differs.
    `resumed`: the model took an earlier step (see `resume_at`), so values it derived
    differently are its own already."""
    shape, slots = goal_shape(goal)
    if shape != learned.shape or len(slots) != len(learned.slots):
        return None
    if previous_ok is False or replayed_so_far >= len(learned.steps):
        return None
    step = learned.steps[replayed_so_far]
    if step.page_url and site_of(step.page_url) != site_of(observation.url):
        return None
    if _searching(step.intent):
        # The recording pressed on until its page showed what was wanted; how often this
        # page needs it is for the model to see (a number generated until it is even).
        return None
    if any(
        _pointed(s.intent) for s in learned.steps if s.intent.plan_step == step.intent.plan_step
    ):
        # A second element (a drop target, a value display) or a point on the page: only
        # the acted-on element is re-grounded, so the model decides this step again, and
        # the rest of its goal step with it (those steps share what the model noted, such
        # as where things were before they moved).
        return None
    derived = _derived_from_changed_values(learned, slots)
    if derived and not resumed and not _uses_a_value(step, learned.slots):
        return None
    if derived and _chosen_among_look_alikes(step, learned.slots, observation):
        # Its element holds no goal value and has look-alikes: the changed value (an
        # ordinal, "the 2nd text field") may be what chose it, so the model chooses again,
        # also after rejoining (the model's own step may have used another of the values).
        return None
    intent = step.intent
    reason = intent.reason if intent.reason.startswith("replay: ") else f"replay: {intent.reason}"
    changes: dict[str, object] = {"reason": reason[:300]}
    if intent.element is not None:
        label = swap(step.element_label, learned.slots, slots)
        same = [e for e in observation.elements if regrounding_key(observation, e) == label]
        if not same and step.nth == 0 and _masked(label) != label:
            # Not there as written: the one element whose label differs only in its numbers.
            same = [
                e
                for e in observation.elements
                if _masked(regrounding_key(observation, e)) == _masked(label)
            ]
            if len(same) != 1:
                return None
        if step.nth >= len(same):
            return None
        if len(same) > 1 and label.endswith("''"):
            return None  # nameless look-alikes: which one was meant is not on the page
        shown = [e for e in same if e.box is not None]
        if len(shown) > 1 and not any(v and v in _own_label(label) for v in slots):
            # Look-alikes in view that no goal value tells apart ('Odd' beside each number):
            # which one the recording took followed from its page; the model reads this one.
            # (Hidden ones, such as each inbox row's icons behind an open message, are not.)
            return None
        changes["element"] = same[step.nth].id
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

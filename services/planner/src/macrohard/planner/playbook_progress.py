"""Where a run stands against the recording it replays: which recorded step comes next
after the model took some (`resume_at`), whether the run did every goal step the recording
did (`every_goal_step_served`), and whether every replayed step changed its page as its
recorded step did (`results_held`). Pure functions only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from macrohard.contracts.agent import Intent, RunLearned
from macrohard.contracts.browser import PageObservation
from macrohard.planner.playbook_evidence import result_held
from macrohard.planner_model.web_planner import SEARCH


def pointed(intent: Intent) -> bool:
    """A step with a second element or a point: more than its element to re-ground."""
    return intent.target_element is not None or intent.x is not None


def _stood_in_for_the_last(
    learned: RunLearned, decided: Sequence[tuple[Intent, bool, bool | None]], last: int
) -> bool:
    """Whether the model's decision `last` took the place of the one recorded step the
    replay had reached and refused (a choice the page made), that step being the last of its
    goal step, and this run having replayed every earlier step of that goal step: the run
    followed the recording up to it, so the model's one step finished the goal step (a
    suggestion picked after the replayed typing). A step before the last of its goal step (a
    calendar's month walked back) never stands in: how many more the page needs is open."""
    before = resume_at(learned, decided[:last])
    intent = decided[last][0]
    if before is None or before[0] >= len(learned.steps):
        return False
    index, plan = before[0], intent.plan_step
    if learned.steps[index].intent.plan_step != plan:
        return False
    if any(s.intent.plan_step == plan for s in learned.steps[index + 1 :]):
        return False
    mine = [(replayed, ok) for i, replayed, ok in decided[:last] if i.plan_step == plan]
    theirs = [s for s in learned.steps[:index] if s.intent.plan_step == plan]
    return len(mine) == len(theirs) and all(r and ok is not False for r, ok in mine)


def resume_at(
    learned: RunLearned, decided: Sequence[tuple[Intent, bool, bool | None]]
) -> tuple[int, bool] | None:
    """Which recorded step comes next, given this run's decisions so far (intent, replayed,
    ok), and whether the model has taken over a step on the way; None: none may come now.

    Replayed decisions walk the recording one by one. Where the page differed (or chose) the
    model took the step; the recording is rejoined at the first step of a later goal step
    (plan step) once the model has served the differing goal step as the recording did:
    one successful action for a goal step the recording did in one, or one action standing
    in for the refused last step of a goal step whose earlier steps were replayed
    (`_stood_in_for_the_last`); either way the last one of the same kind (a typed date that
    needed its calendar instead is not the recording's, and the run stays the model's).
    """
    taken = [k for k, (_, replayed, _) in enumerate(decided) if not replayed]
    if not taken:
        return len(decided), False
    last = taken[-1]
    intent, plan = decided[last][0], decided[last][0].plan_step
    if plan is None or searching(intent) or exploring(intent) or pointed(intent):
        # A step of the model's search (press until the page shows what is wanted), of its
        # exploring (an email opened to find its trash icon), or a drag or a point (a list
        # sorted one move at a time): only the model's next look at the page says whether
        # that goal step is over.
        return None
    recorded = [s for s in learned.steps if s.intent.plan_step == plan]
    served = [i for i, _, ok in decided[: last + 1] if i.plan_step == plan and ok is not False]
    one_for_one = len(recorded) == 1 and len(served) == 1
    if not recorded or not (one_for_one or _stood_in_for_the_last(learned, decided, last)):
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


def every_goal_step_served(
    learned: RunLearned, decided: Sequence[tuple[Intent, bool, bool | None]]
) -> bool:
    """Whether this run did, with success, something for every goal step (plan step) the
    recording did before its `done`: a replayed `done` must never end a run that skipped
    one (a form submitted without its select is a false completion). An exploring step (an
    email opened to look for its trash icon) serves none: it only looked."""
    wanted = {
        s.intent.plan_step
        for s in learned.steps
        if s.intent.plan_step is not None and s.intent.action not in ("done", "fail")
    }
    served = {
        i.plan_step
        for i, _, ok in decided
        if i.plan_step is not None and ok is not False and not exploring(i)
    }
    return wanted <= served


def results_held(
    learned: RunLearned,
    slots: Sequence[str],
    decided: Sequence[tuple[Intent, bool, bool | None]],
    steps: Sequence[int],
    pages: Mapping[int, PageObservation],
) -> bool:
    """Whether every step this run replayed changed its page as its recorded step did (the
    recording's `results`), as far as the pages after them are known. `steps[k]`: the task
    step of decision k; `pages[s]`: the page step s was decided on (`pages[s + 1]` is the
    page after it). Where one did not, this page differs from the recording's in a way
    re-grounding could not see: the model takes over from there, and a replayed `done`
    needs every one to have held. `slots`: this run's goal values."""
    if len(slots) != len(learned.slots):
        return False
    for k, (intent, replayed, _) in enumerate(decided):
        after = pages.get(steps[k] + 1)
        at = resume_at(learned, decided[:k]) if replayed and after is not None else None
        if after is None or at is None or at[0] >= len(learned.steps):
            continue
        expected = learned.steps[at[0]].results
        if not all(result_held(r, intent, after, learned.slots, slots) for r in expected):
            return False
    return True


def searching(intent: Intent) -> bool:
    """A step the model took in a search loop: what it did next depended on the page."""
    return intent.reason.removeprefix("replay: ").startswith(SEARCH)


# The planner model's reason prefix for a click that only opens or expands something to look
# inside (skills/base.py `explore`): the model itself does not count it as the goal step done.
_EXPLORE = "explore"


def exploring(intent: Intent) -> bool:
    """A step the model took to look for its target (opened an item, expanded a folder)."""
    return intent.reason.removeprefix("replay: ").startswith(_EXPLORE)

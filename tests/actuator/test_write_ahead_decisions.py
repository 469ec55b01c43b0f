"""What a redelivery does with an interrupted action, from its write-ahead records (pure)."""

from __future__ import annotations

import itertools

import pytest

from macrohard.actuator.domain import EFFECT_FREE, SAFE_METHODS, can_carry_effect
from macrohard.actuator.session import (
    BrowserSession,
    Interrupted,
    evolve,
    interrupted_outcome,
)
from macrohard.billing.domain import usage_of
from macrohard.contracts.browser import ActionLanded, ActionReachedSite, ActionStarted
from macrohard.contracts.envelope import Event
from tests.actuator.conftest import browser_envelope

INTENT = "intent-1"
EFFECTS = ["click", "press", "type", "clear", "select", "check", "uncheck", "drag", "upload",
           "back", "set_value", "some_new_action"]  # fmt: skip


def started(intent: str = INTENT) -> Event:
    return ActionStarted(task_id="task", step=3, intent_event_id=intent, action="click")


def reached(intent: str = INTENT) -> Event:
    return ActionReachedSite(
        task_id="task", step=3, intent_event_id=intent, method="POST", url="http://s/submit"
    )


def landed(url: str = "http://s/thanks", intent: str = INTENT) -> Event:
    return ActionLanded(task_id="task", step=3, intent_event_id=intent, url=url)


def fold(*events: Event) -> BrowserSession:
    state = BrowserSession()
    for event in events:
        state = evolve(state, browser_envelope(event))
    return state


# Every order of records an action can leave, and what a redelivery must conclude from it.
RECORDS: list[tuple[tuple[Event, ...], Interrupted]] = [
    ((), Interrupted.NOT_SENT),
    ((reached(),), Interrupted.UNKNOWN),
    ((reached(), reached()), Interrupted.UNKNOWN),
    ((reached(), landed()), Interrupted.LANDED),
    ((reached(), reached(), landed()), Interrupted.LANDED),
    # A request after the landing (the landed page posted again): unknown once more.
    ((reached(), landed(), reached()), Interrupted.UNKNOWN),
    ((reached(), landed(), reached(), landed("http://s/again")), Interrupted.LANDED),
    # Another intent's records say nothing about this one.
    ((reached("other"), landed(intent="other")), Interrupted.NOT_SENT),
    ((reached(), landed(intent="other")), Interrupted.UNKNOWN),
]


@pytest.mark.parametrize(("action", "case"), list(itertools.product(EFFECTS, range(len(RECORDS)))))
def test_an_interrupted_action_with_effects_is_judged_by_its_records(
    action: str, case: int
) -> None:
    records, expected = RECORDS[case]
    state = fold(started(), *records)
    assert interrupted_outcome(state, INTENT, action) is expected


@pytest.mark.parametrize(
    ("action", "case"), list(itertools.product(sorted(EFFECT_FREE), range(len(RECORDS))))
)
def test_an_interrupted_action_without_effects_is_done_again(action: str, case: int) -> None:
    records, _ = RECORDS[case]
    state = fold(started(), *records)
    assert interrupted_outcome(state, INTENT, action) is Interrupted.REDO


def test_the_last_landing_is_where_a_takeover_goes() -> None:
    state = fold(started(), reached(), landed(), reached(), landed("http://s/again"))
    assert state.reached[INTENT] == "http://s/again"


@pytest.mark.parametrize(
    "method",
    ["GET", "HEAD", "OPTIONS", "get", "Head", "POST", "PUT", "PATCH", "DELETE", "post", "PROPFIND"],
)
def test_only_safe_methods_leave_without_a_record(method: str) -> None:
    assert can_carry_effect(method) is (method.upper() not in SAFE_METHODS)


def test_the_records_are_evidence_only_billing_charges_nothing_for_them() -> None:
    assert (
        usage_of(browser_envelope(reached())) == [] and usage_of(browser_envelope(landed())) == []
    )

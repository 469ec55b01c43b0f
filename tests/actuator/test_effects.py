"""Which actions may be done again after a crash, and when a timed-out click was done."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from macrohard.actuator.domain import effect_free, pointer_action_begun, pointer_action_done
from macrohard.contracts.agent import ActionKind

# Every action kind, decided one by one: a new kind fails here until someone decides it.
EXPECTED = {
    # Nothing a site records comes of doing these twice.
    "navigate": True,  # a GET; the task may already be on that URL
    "scroll": True,
    "hover": True,
    "wait_for": True,
    "extract": True,  # reads the page
    "select_text": True,  # a highlight in the page
    "done": True,
    "fail": True,
    # These may reach the site, or change what a later submit sends.
    "click": False,
    "right_click": False,
    "click_at": False,
    "click_when": False,  # a click, only timed by the page
    "hold": False,
    "press": False,  # Enter submits a form
    "type": False,  # a field may submit as it changes (search-as-you-type, autosave)
    "clear": False,
    "select": False,
    "check": False,
    "uncheck": False,
    "drag": False,
    "upload": False,
    "set_value": False,
    "back": False,  # may re-post the form the previous page was the answer to
}


def test_every_action_kind_is_decided() -> None:
    assert set(EXPECTED) == set(get_args(ActionKind))


@pytest.mark.parametrize(("action", "free"), sorted(EXPECTED.items()))
def test_effect_free(action: str, free: bool) -> None:
    assert effect_free(action) is free


@given(st.text(max_size=20))
def test_an_unknown_action_is_an_effect(action: str) -> None:
    if action not in EXPECTED:
        assert not effect_free(action)


# Playwright's error text for a click (call log as the driver writes it).
AFTER_THE_CLICK = """Locator.click: Timeout 5000ms exceeded.
Call log:
  - waiting for locator('[data-mh-id="8"]')
    - locator resolved to <button type="submit">Submit</button>
  - attempting click action
    2 x waiting for element to be visible, enabled and stable
      - element is visible, enabled and stable
      - scrolling into view if needed
      - done scrolling
      - performing click action
      - click action done
      - waiting for scheduled navigations to finish
"""
BEFORE_THE_CLICK = """Locator.click: Timeout 5000ms exceeded.
Call log:
  - waiting for locator('[data-mh-id="8"]')
    - locator resolved to <button disabled type="submit">Submit</button>
  - attempting click action
    2 x waiting for element to be visible, enabled and stable
      - element is not enabled
    - retrying click action
"""
MID_CLICK = BEFORE_THE_CLICK + "      - performing click action\n"


def test_a_timeout_after_the_click_was_done() -> None:
    assert pointer_action_done(AFTER_THE_CLICK)


@pytest.mark.parametrize("error", [BEFORE_THE_CLICK, MID_CLICK, "", "Timeout 5000ms exceeded."])
def test_a_timeout_before_the_click_finished_was_not(error: str) -> None:
    assert not pointer_action_done(error)


def test_another_action_done_is_not_a_click() -> None:
    assert not pointer_action_done(
        AFTER_THE_CLICK.replace("click action done", "hover action done")
    )
    assert pointer_action_done(AFTER_THE_CLICK.replace("click action", "tap action"), "tap")


def test_a_timeout_while_the_mouse_events_were_sent_is_a_click_begun() -> None:
    # Begun but not done: whether it reached the page is unknown (click_once then waits for
    # a new page, and reports the outcome unknown if none comes).
    assert pointer_action_begun(MID_CLICK) and not pointer_action_done(MID_CLICK)
    assert pointer_action_begun(AFTER_THE_CLICK)
    assert not pointer_action_begun(BEFORE_THE_CLICK)

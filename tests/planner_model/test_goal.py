"""Goal parsing: generic step types from the wording, quoted values kept verbatim."""

from __future__ import annotations

import pytest

from macrohard.planner_model.web_planner.goal import parse_goal


def kinds(goal: str) -> list[tuple[str, str, str]]:
    return [(s.kind, s.target or s.kind_hint, s.value) for s in parse_goal(goal)]


@pytest.mark.parametrize(
    ("goal", "expected"),
    [
        ('Click on the "previous" button.', [("click", "previous", "")]),
        (
            "Click button ONE, then click button TWO.",
            [("click", "ONE", ""), ("click", "TWO", "")],
        ),
        ("Select nothing and click Submit.", [("check", "", ""), ("click", "Submit", "")]),
        ('Click on the link "Neque,".', [("click", "Neque,", "")]),  # the comma is the value's
        (
            'Enter the username "keli" and the password "3hI" into the text fields and press '
            "login.",
            [("fill", "username", "keli"), ("fill", "password", "3hI"), ("click", "login", "")],
        ),
        (
            "Enter 09/10/2012 as the date and hit submit.",
            [("fill", "date", "09/10/2012"), ("click", "submit", "")],
        ),
        (
            "Select Miguelita from the list and click Submit.",
            [("choose", "", "Miguelita"), ("click", "Submit", "")],
        ),
        (
            "Expand the section below and click submit.",
            [("expand", "section below", ""), ("click", "submit", "")],
        ),
        ('Close the dialog box by clicking the "x".', [("click", "x", "")]),
        ("Focus into the 3rd input textbox.", [("focus", "input textbox", "")]),
        (
            'Use the textbox to enter "Jerald" and press "Search", then find and click the 9th '
            "search result.",
            [
                ("fill", "textbox", "Jerald"),
                ("click", "Search", ""),
                ("click_nth", "search result", ""),
            ],
        ),
        (
            'Find the email by Alexina and reply to them with the text "Tortor, diam semper.".',
            [
                ("locate", "Alexina", ""),
                ("click", "reply", ""),
                ("fill", "message", "Tortor, diam semper."),
                ("click", "send", ""),
            ],
        ),
        (
            "Find the email by Ann and forward that email to Bob.",
            [
                ("locate", "Ann", ""),
                ("click", "forward", ""),
                ("fill", "to", "Bob"),
                ("click", "send", ""),
            ],
        ),
        # Wordings from outside the development list.
        ('Type "hello world" in the comment box', [("fill", "comment box", "hello world")]),
        (
            "Choose Blue from the dropdown, then press OK",
            [("choose", "", "Blue"), ("click", "OK", "")],
        ),
        (
            'Click the "Save" button and then click the "Close" link',
            [("click", "Save", ""), ("click", "Close", "")],
        ),
    ],
)
def test_goal_becomes_generic_steps(goal: str, expected: list[tuple[str, str, str]]) -> None:
    assert kinds(goal) == expected


def test_ordinals_and_lists() -> None:
    focus = parse_goal("Focus into the 3rd input textbox.")[0]
    assert focus.ordinal == 3
    nth = parse_goal("find and click the 9th search result")[0]
    assert (nth.kind, nth.ordinal) == ("click_nth", 9)
    check = parse_goal("Select 3tZ, Ro and x1 and click Submit.")[0]
    assert check.values == ["3tZ", "Ro", "x1"]
    auto = parse_goal('Enter an item that starts with "Egy" and ends with "gypt".')[0]
    assert (auto.kind, auto.value, auto.values) == ("autocomplete", "Egy", ["gypt"])
    both = parse_goal('Enter the password "Q3h" into both text fields and press submit.')[0]
    assert both.all_fields and both.value == "Q3h"


def test_an_unreadable_goal_has_no_steps() -> None:
    assert parse_goal("") == []
    assert parse_goal("Hmm.") == []

"""Goal wordings of the command-line, order and colouring skills, in our own paraphrases
(values unquoted, synonyms, the condition before or after the object), and the pure
decisions behind them: which listed file fits, which swatch is nearest a colour name."""

from __future__ import annotations

import pytest

from macrohard.planner_model.web_planner.goal import parse_goal
from macrohard.planner_model.web_planner.skills.colouring import distance
from macrohard.planner_model.web_planner.skills.console import fits, keys_for


@pytest.mark.parametrize(
    ("goal", "kind", "value"),
    [
        ("Remove a .py file using the terminal", "ext", ".py"),
        ("Using the console, delete any file without an extension.", "none", ""),
        ("Erase the file called draft.md in the shell", "name", "draft.md"),
        ("From the command line, delete the file starting with tmp", "prefix", "tmp"),
        ("In the terminal, remove one file whose suffix is gz", "ext", ".gz"),
        ("Delete an extensionless file in the terminal", "none", ""),
    ],
)
def test_file_operations_in_a_terminal_are_read_in_many_wordings(
    goal: str, kind: str, value: str
) -> None:
    (step,) = parse_goal(goal)
    assert (step.kind, step.kind_hint, step.value) == ("console_delete", kind, value)


def test_a_command_to_run_and_how_it_is_typed() -> None:
    (step,) = parse_goal("Execute the command uptime -p in the console")
    assert (step.kind, step.value) == ("console_run", "uptime -p")
    assert keys_for("rm a+b.txt") == "r m Space a + b . t x t Enter"


def test_which_listed_files_fit_a_condition() -> None:
    listed = ["README", "notes.txt", "site.tar.gz", ".bashrc", "bin/", "gz"]
    assert [n for n in listed if fits(n, "none", "")] == ["README", ".bashrc", "bin/", "gz"]
    assert [n for n in listed if fits(n, "ext", ".gz")] == ["site.tar.gz"]
    assert [n for n in listed if fits(n, "ext", ".tar.gz")] == ["site.tar.gz"]
    assert [n for n in listed if fits(n, "prefix", "no")] == ["notes.txt"]


@pytest.mark.parametrize(
    ("goal", "kind", "value", "count"),
    [
        ("Get two items tagged dairy", "order_kind", "dairy", 2),
        ("purchase 3 vegetarian meals", "order_kind", "vegetarian", 3),
        ("Buy 4 products which are organic", "order_kind", "organic", 4),
        ("Order one of each product: Apple tart and Pear cider", "order_items",
         "Apple tart and Pear cider", 0),
    ],
)  # fmt: skip
def test_orders_by_label_or_by_name_in_many_wordings(
    goal: str, kind: str, value: str, count: int
) -> None:
    first, send = parse_goal(goal)
    assert (first.kind, first.value, first.ordinal) == (kind, value, count)
    assert send.kind == "order_send"
    (asked,) = parse_goal("Place your order")
    assert (asked.kind, asked.value) == ("order_send", "asked")


@pytest.mark.parametrize(
    ("goal", "words", "colour"),
    [
        ("Change the colour of the word sky to blue", "sky", "blue"),
        ("Paint everything green", "", "green"),
        ("In the editor, make the text Hello red", "Hello", "red"),
        ("Using the text editor, give the text ipsum, the color purple", "ipsum,", "purple"),
        ("Color all the text gray", "", "grey"),
    ],
)
def test_colouring_text_in_many_wordings(goal: str, words: str, colour: str) -> None:
    (step,) = parse_goal(goal)
    assert (step.kind, step.target, step.value) == ("color_text", words, colour)


def test_a_swatch_is_matched_to_the_nearest_named_colour() -> None:
    palette = ["#e60000", "#ff9900", "#ffff00", "#008a00", "#0047b2", "#6b24b2", "#666600"]
    for name, want in [
        ("red", "#e60000"),
        ("yellow", "#ffff00"),
        ("blue", "#0047b2"),
        ("purple", "#6b24b2"),
        ("orange", "#ff9900"),
        ("green", "#008a00"),
    ]:
        assert min(palette, key=lambda c: distance(c, name)) == want, name

"""Goal wordings of the command-line, order, colouring and inbox skills, in our own paraphrases
(values unquoted, synonyms, the condition before or after the object), and the pure
decisions behind them: which listed file fits, which swatch is nearest a colour name."""

from __future__ import annotations

import pytest

from macrohard.contracts.browser import Box, PageElement, PageObservation
from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide
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


def test_a_terminal_without_a_field_is_clicked_then_typed_into_and_its_listing_read() -> None:
    def page(*lines: str) -> PageObservation:
        texts = ["Console", *lines, "guest>"]
        return PageObservation(
            url="http://app.test/",
            title="",
            elements=[
                PageElement(id=i, role="text", text=t, box=Box(0, 20 * i, 200, 16))
                for i, t in enumerate(texts, start=1)
            ],
        )

    goal = "Use the console to delete the file with no extension"
    history: list[PastStep] = []
    first = decide(PlanRequest(goal=goal, observation=page(), history=history))
    assert (first.action, first.element) == ("click", 2)  # the prompt: it gets the keyboard
    history.append(PastStep(intent=first))
    listing = decide(PlanRequest(goal=goal, observation=page(), history=history))
    assert (listing.action, listing.element, listing.keys) == ("press", None, "l s Enter")
    history.append(PastStep(intent=listing))
    shown = page("guest> ls", "a.txt  Makefile  b.md")
    remove = decide(PlanRequest(goal=goal, observation=shown, history=history))
    assert remove.keys == keys_for("rm Makefile")
    history.append(PastStep(intent=remove))
    after = page("guest> ls", "a.txt  Makefile  b.md", "guest> rm Makefile")
    assert decide(PlanRequest(goal=goal, observation=after, history=history)).action == "done"
    refused = page("guest> ls", "a.txt  Makefile  b.md", "guest> rm Makefile", "rm: denied")
    retry = decide(PlanRequest(goal=goal, observation=refused, history=history))
    assert retry.action == "fail" and "Makefile" in retry.reason  # no other file fits


@pytest.mark.parametrize(
    ("goal", "kinds"),
    [
        ("Forward the message from Kim to Lee.", ["locate_item", "click", "fill", "click"]),
        ("Respond to the email regarding the offsite saying see you there",
         ["locate_item", "click", "fill", "click"]),
        ("Flag the mail with the subject Q3 plan", ["locate_item", "click"]),
        ("Trash the message which was sent by Ola", ["locate_item", "click"]),
        ("Open the message sent by Kim, then star it", ["locate_item", "click"]),
    ],
)  # fmt: skip
def test_inbox_items_by_author_subject_or_content_in_many_wordings(
    goal: str, kinds: list[str]
) -> None:
    steps = parse_goal(goal)
    assert [s.kind for s in steps] == kinds
    assert steps[0].kind_hint in ("author", "content")

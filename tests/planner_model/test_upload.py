"""The offline model grounds 'upload FILE' onto the file input the goal names."""

from __future__ import annotations

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.planner_model.web_planner.goal import parse_goal
from macrohard.planner_model.web_planner.policy import PastStep, PlanRequest, decide

PAGE = PageObservation(
    url="https://example.com/upload",
    title="Upload",
    elements=[
        PageElement(id=1, role="heading", text="Send a document", tag="h1"),
        PageElement(id=2, role="button", name="Photo", tag="input"),
        PageElement(id=3, role="button", name="Document", tag="input"),
        PageElement(id=4, role="button", name="Send", tag="button"),
        PageElement(id=5, role="button", name="Reset", tag="input", value="Reset"),
    ],
)
GOAL = 'Upload "orders.csv" to the Document field and click "Send"'


def test_the_goal_names_files_and_the_input() -> None:
    steps = parse_goal(GOAL)
    assert [(s.kind, s.values, s.target) for s in steps] == [
        ("upload", ["orders.csv"], "Document"),
        ("click", [], "Send"),
    ]


def test_upload_then_the_next_step() -> None:
    first = decide(PlanRequest(goal=GOAL, observation=PAGE))
    assert (first.action, first.element, first.values) == ("upload", 3, ["orders.csv"])
    done = PastStep(intent=first, ok=True)
    second = decide(PlanRequest(goal=GOAL, observation=PAGE, history=[done]))
    assert (second.action, second.element) == ("click", 4)


def test_no_file_input_fails_with_the_reason() -> None:
    page = PageObservation(url=PAGE.url, title="x", elements=[PAGE.elements[3]])
    intent = decide(PlanRequest(goal='Upload "a.pdf"', observation=page))
    assert intent == Intent(
        action="fail", reason="the page shows no file input to upload to", plan_step=0
    )

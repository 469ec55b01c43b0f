"""The planner model on recorded MiniWoB++ observations and on hand-built pages it never saw.

`data/miniwob_runs.json` holds whole runs recorded from real Chromium (seed 7, each ended
with reward > 0): every step's observation, the intent chosen, and how it went. Replaying
them checks that the model still takes the winning path, step by step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import Box, PageElement, PageObservation
from macrohard.planner_model.planner import build_infer
from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide

RUNS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "miniwob_runs.json").read_text()
)


@pytest.mark.parametrize("task", sorted(RUNS))
def test_recorded_winning_run_replays_step_by_step(task: str) -> None:
    run = RUNS[task]
    assert run["reward"] > 0
    history: list[PastStep] = []
    for step in run["steps"]:
        obs = msgspec.convert(step["observation"], PageObservation)
        intent = decide(PlanRequest(goal=run["goal"], observation=obs, history=history))
        assert intent == msgspec.convert(step["intent"], Intent), f"{task}: step {len(history)}"
        history.append(
            PastStep(
                intent=intent,
                ok=step.get("ok", True),
                error=step.get("error", ""),
                label=step.get("label", ""),
            )
        )


def first_intent(task: str) -> tuple[Intent, PageObservation]:
    run = RUNS[task]
    obs = msgspec.convert(run["steps"][0]["observation"], PageObservation)
    return decide(PlanRequest(goal=run["goal"], observation=obs)), obs


def element(obs: PageObservation, element_id: int | None) -> PageElement:
    return next(e for e in obs.elements if e.id == element_id)


def test_grounds_the_quoted_button_and_skips_the_instruction_panel() -> None:
    intent, obs = first_intent("click-button")
    wanted = RUNS["click-button"]["goal"].split('"')[1]
    assert intent.action == "click"
    assert element(obs, intent.element).name == wanted


def test_login_fields_get_their_own_values() -> None:
    run = RUNS["login-user"]
    typed = [s["intent"] for s in run["steps"] if s["intent"]["action"] == "type"]
    assert len({t["element"] for t in typed}) == 2  # two different fields
    typed_values = [t["text"] for t in typed]
    quoted = run["goal"].split('"')
    assert typed_values == [quoted[1], quoted[3]]


def test_date_goes_into_a_date_input_in_iso_form() -> None:
    intent, obs = first_intent("enter-date")
    m, d, y = RUNS["enter-date"]["goal"].split()[1].split("/")
    assert intent.action == "type" and intent.text == f"{y}-{m}-{d}"
    assert element(obs, intent.element).role == "date"


def page(*elements: PageElement) -> PageObservation:
    return PageObservation(url="http://shop.test/", title="t", elements=list(elements))


def el(
    i: int, role: str, name: str = "", *, y: int = 0, x: int = 0, w: int = 80, **kw: Any
) -> PageElement:
    return PageElement(id=i, role=role, name=name, box=Box(x, y, w, 20), **kw)


def test_unseen_form_fills_by_label_then_sends() -> None:
    obs = page(
        el(0, "textbox", "Email", y=10),
        el(1, "textbox", "Comment", y=40),
        el(2, "button", "Send", y=70),
    )
    goal = 'Type "hi there" in the comment box and click Send.'
    first = decide(PlanRequest(goal=goal, observation=obs))
    assert (first.action, first.element, first.text) == ("type", 1, "hi there")
    filled = page(
        obs.elements[0], msgspec.structs.replace(obs.elements[1], value="hi there"), obs.elements[2]
    )
    second = decide(PlanRequest(goal=goal, observation=filled, history=[PastStep(intent=first)]))
    assert (second.action, second.element) == ("click", 2)
    third = decide(
        PlanRequest(
            goal=goal, observation=filled, history=[PastStep(intent=first), PastStep(intent=second)]
        )
    )
    assert third.action == "done"


def test_ui_conventions_x_closes_and_trash_deletes() -> None:
    obs = page(el(0, "button", "Close", y=5), el(1, "button", "Archive", y=30))
    assert decide(PlanRequest(goal='Click the "x".', observation=obs)).element == 0
    obs = page(el(0, "generic", "star", y=5, w=12), el(1, "generic", "trash", y=5, x=20, w=12))
    assert decide(PlanRequest(goal="Click the delete icon.", observation=obs)).element == 1


def test_dropdown_choice_uses_select() -> None:
    obs = page(
        el(0, "combobox", "Colour", options=["Red", "Blue"], value="Red"), el(1, "button", "OK")
    )
    intent = decide(
        PlanRequest(goal="Choose Blue from the dropdown, then press OK", observation=obs)
    )
    assert (intent.action, intent.values) == ("select", ["Blue"])


def test_failed_click_is_retried_after_dismissing_overlays() -> None:
    obs = page(el(0, "button", "Submit"))
    click = decide(PlanRequest(goal="Click Submit.", observation=obs))
    failed = PastStep(intent=click, ok=False, error="intercepted")
    retry = decide(PlanRequest(goal="Click Submit.", observation=obs, history=[failed]))
    assert (retry.action, retry.keys) == ("press", "Escape")


def test_missing_target_fails_with_a_reason_instead_of_guessing() -> None:
    intent = decide(
        PlanRequest(goal='Click the "Checkout" button.', observation=page(el(0, "link", "Home")))
    )
    assert intent.action == "fail" and "Checkout" in intent.reason


def test_node_binding_is_json_in_json_out_and_never_raises() -> None:
    infer = build_infer(None)
    obs = page(el(0, "button", "OK"))
    cells = {
        "goal": np.array([[b"Click OK"], [b"Click OK"]], dtype=np.object_),
        "page": np.array([[msgspec.json.encode(obs)], [b"{not json"]], dtype=np.object_),
        "history": np.array([[b"[]"], [b""]], dtype=np.object_),
    }
    out = [msgspec.json.decode(c, type=Intent) for c in infer(cells)["intent"][:, 0]]
    assert (out[0].action, out[0].element) == ("click", 0)
    assert out[1].action == "fail" and "unreadable" in out[1].reason


def test_semantic_grounding_with_minilm_when_no_word_matches() -> None:
    from macrohard.planner_model.minilm import encoder

    obs = page(el(0, "button", "Archive", y=0), el(1, "button", "Delete", y=30))
    request = PlanRequest(goal="Click the Remove button.", observation=obs)
    assert decide(request).action == "fail"  # letters alone cannot see it
    assert decide(request, encoder().encode).element == 1  # meaning can


def test_a_value_read_off_the_page_is_entered_elsewhere_in_the_asked_case() -> None:
    obs = page(
        el(0, "text", "", y=0, text="Lorem ipsum dolor."),
        el(1, "textbox", "Answer", y=40),
        el(2, "button", "Submit", y=70),
    )
    goal = (
        "Find the 2nd word in the paragraph, type that into the textbox in upper case and "
        "press Submit."
    )
    intent = decide(PlanRequest(goal=goal, observation=obs))
    assert (intent.action, intent.element, intent.text) == ("type", 1, "IPSUM")


def test_copy_from_one_field_into_another() -> None:
    obs = page(
        el(0, "textbox", "", y=0, tag="textarea", value="Copy me."),
        el(1, "textbox", "", y=40, tag="input"),
        el(2, "button", "Submit", y=70),
    )
    goal = "Copy the text in the textarea below, paste it into the textbox and press Submit."
    intent = decide(PlanRequest(goal=goal, observation=obs))
    assert (intent.action, intent.element, intent.text) == ("type", 1, "Copy me.")


def test_a_label_quoting_part_of_the_goal_is_a_control_not_the_instructions() -> None:
    """Found by `mh demo`: a checkbox label made only of goal words ("Needs a laptop") was
    taken for the task's instruction panel, and the checkbox inside it was never checked."""
    goal = (
        'Enter "Ada Lovelace" into the full name field, select "Engineering" from the team '
        'list, check "Needs a laptop" and press Submit.'
    )
    page = PageObservation(
        url="http://127.0.0.1/hire", title="New hire",
        elements=[
            PageElement(id=3, role="textbox", name="Full name", tag="input",
                        value="Ada Lovelace", box=Box(10, 70, 300, 20)),
            PageElement(id=5, role="combobox", name="Team", tag="select", value="Engineering",
                        options=["Design", "Engineering"], box=Box(10, 120, 300, 20)),
            PageElement(id=6, role="label", text="Needs a laptop", tag="label",
                        box=Box(10, 150, 150, 20)),
            PageElement(id=7, role="checkbox", name="Needs a laptop", tag="input",
                        checked=False, box=Box(10, 150, 15, 15)),
            PageElement(id=8, role="button", name="Submit", tag="button",
                        box=Box(10, 180, 60, 20)),
        ],
    )  # fmt: skip
    history = [
        PastStep(intent=Intent(action="type", element=3, text="Ada Lovelace", plan_step=0)),
        PastStep(intent=Intent(action="select", element=5, values=["Engineering"], plan_step=1)),
    ]
    intent = decide(PlanRequest(goal=goal, observation=page, history=history))
    assert (intent.action, intent.element) == ("check", 7)

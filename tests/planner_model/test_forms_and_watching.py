"""A compact form whose labels overlap the next row, and how often a watched value is looked
at (hand-built pages, no benchmark page)."""

from __future__ import annotations

from macrohard.contracts.browser import Box, PageElement, PageObservation
from macrohard.planner_model.web_planner import PlanRequest, decide
from macrohard.planner_model.web_planner.skills.watch import look_ms


def test_a_field_takes_the_label_level_with_it_not_the_nearer_one_below() -> None:
    # Rows 15 px apart: the next row's label overlaps this field's row and sits 1 px nearer.
    page = PageObservation(
        url="http://app.test/",
        title="",
        elements=[
            PageElement(id=1, role="label", text="Country:", box=Box(5, 137, 38, 11)),
            PageElement(id=2, role="textbox", box=Box(70, 137, 88, 14)),
            PageElement(id=3, role="label", text="Religion:", box=Box(5, 152, 39, 11)),
            PageElement(id=4, role="textbox", box=Box(70, 152, 88, 14)),
        ],
    )
    for goal, field in [
        ('Enter "Chad" into the Country field', 2),
        ('Enter "Baha\'i" into the Religion field', 4),
    ]:
        intent = decide(PlanRequest(goal=goal, observation=page))
        assert (intent.action, intent.element) == ("type", field), goal


def test_a_value_near_its_condition_is_looked_at_often_one_far_from_it_slowly() -> None:
    assert look_ms(51.9, "less than $51.60") == 250
    assert look_ms(55.0, "less than $51.60") == 500
    assert look_ms(70.0, "less than $51.60") == 1000
    assert look_ms(None, "less than $51.60") == 500

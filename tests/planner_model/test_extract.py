"""Extraction: tables by their headers, labelled values, list items, typed as the schema says."""

from __future__ import annotations

from macrohard.contracts.browser import Box, PageElement, PageObservation
from macrohard.planner_model.web_planner.extract import extract

ORDER = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "title": "Order"},
        "customer": {"type": "string"},
        "total": {"type": "number"},
        "status": {"type": "string"},
    },
}


def cell(i: int, role: str, text: str, x: int, y: int) -> PageElement:
    return PageElement(id=i, role=role, text=text, box=Box(x, y, 100, 20))


PAGE = PageObservation(
    url="https://shop.test/orders",
    title="Orders",
    elements=[
        PageElement(id=1, role="heading", text="Orders"),
        PageElement(id=2, role="text", text="Account: ACME-7"),
        PageElement(id=3, role="label", text="Open orders"),
        PageElement(id=4, role="text", text="2"),
        *[
            cell(10 + i, "columnheader", h, 100 * i, 100)
            for i, h in enumerate(["Order", "Customer", "Total", "Status"])
        ],
        cell(20, "cell", "1041", 0, 120),
        cell(21, "cell", "Ada", 100, 120),
        cell(22, "cell", "$1,200.50", 200, 120),
        cell(23, "cell", "Shipped", 300, 120),
        cell(30, "cell", "1042", 0, 140),
        # Bob's customer cell is empty: the observer leaves it out; nothing shifts.
        cell(32, "cell", "$80", 200, 140),
        cell(33, "cell", "Open", 300, 140),
        PageElement(id=40, role="listitem", text="Export ready"),
        PageElement(id=41, role="listitem", text="Nightly sync done"),
    ],
)


def test_a_table_becomes_one_object_per_row_by_its_headers() -> None:
    rows = extract({"type": "array", "items": ORDER}, PAGE)
    assert rows == [
        {"id": "1041", "customer": "Ada", "total": 1200.5, "status": "Shipped"},
        {"id": "1042", "total": 80.0, "status": "Open"},
    ]


def test_labelled_values_list_items_and_nesting() -> None:
    schema = {
        "type": "object",
        "properties": {
            "account": {"type": "string"},
            "open_orders": {"type": "integer"},
            "notices": {"type": "array", "items": {"type": "string"}},
            "orders": {"type": "array", "items": ORDER},
            "missing": {"type": "string"},
        },
    }
    out = extract(schema, PAGE)
    assert out["account"] == "ACME-7" and out["open_orders"] == 2
    assert out["notices"] == ["Export ready", "Nightly sync done"]
    assert [o["id"] for o in out["orders"]] == ["1041", "1042"]
    assert "missing" not in out  # nothing matched: left out, so `required` can say so


# ---- the `extract` intent: emitted on the page that shows the data, once ----------------

ORDERS_SCHEMA = {"type": "object", "properties": {"orders": {"type": "array", "items": ORDER}}}
NEXT = PageElement(id=90, role="link", name="Next page", box=Box(0, 400, 80, 20))
BARE = PageObservation(
    url="https://shop.test/home",
    title="Home",
    elements=[PageElement(id=91, role="link", name="Orders", box=Box(0, 0, 80, 20)), NEXT],
)
GOAL = 'Click the "Orders" link, extract the orders, then click "Next page"'


def test_the_model_extracts_on_the_page_with_the_data_then_moves_on() -> None:
    from macrohard.contracts.agent import Intent
    from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide

    first = decide(PlanRequest(goal=GOAL, observation=BARE, output_schema=ORDERS_SCHEMA))
    assert (first.action, first.element) == ("click", 91)
    clicked = PastStep(intent=first)
    on_orders = PageObservation(url=PAGE.url, title="Orders", elements=[*PAGE.elements, NEXT])
    second = decide(
        PlanRequest(
            goal=GOAL, observation=on_orders, history=[clicked], output_schema=ORDERS_SCHEMA
        )
    )
    assert second.action == "extract" and second.element is None
    # Read once: the next decision goes on to the next step of the goal.
    extracted = PastStep(intent=second)
    third = decide(
        PlanRequest(
            goal=GOAL,
            observation=on_orders,
            history=[clicked, extracted],
            output_schema=ORDERS_SCHEMA,
        )
    )
    assert (third.action, third.element) == ("click", 90)
    # Without a schema, or on a page that shows none of it, there is nothing to extract.
    no_schema = decide(PlanRequest(goal=GOAL, observation=on_orders, history=[clicked]))
    assert no_schema.action != "extract"
    bare = decide(
        PlanRequest(goal=GOAL, observation=BARE, history=[clicked], output_schema=ORDERS_SCHEMA)
    )
    assert bare.action != "extract"
    assert isinstance(third, Intent)

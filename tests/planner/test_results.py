"""Structured results: a run with an output_schema ends with a valid `output`, or fails."""

from __future__ import annotations

from typing import Any

from macrohard.contracts.browser import Box, PageElement, PageObservation
from macrohard.contracts.tasks import TaskCompleted, TaskFailed, TaskSubmitted
from macrohard.eventlog import EventStore
from macrohard.planner.backends import InProcessBackend
from macrohard.planner.handlers import Planner
from macrohard.planner.results import validation_error
from tests.planner.test_service import append, observe, task_events

ORDERS: dict[str, Any] = {
    "type": "object",
    "required": ["orders"],
    "properties": {
        "orders": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "total"],
                "properties": {"id": {"type": "string"}, "total": {"type": "number"}},
            },
        }
    },
}


def page(with_table: bool) -> PageObservation:
    table = [
        PageElement(id=2, role="columnheader", text="ID", box=Box(0, 50, 100, 20)),
        PageElement(id=3, role="columnheader", text="Total", box=Box(100, 50, 100, 20)),
        PageElement(id=4, role="cell", text="1041", box=Box(0, 70, 100, 20)),
        PageElement(id=5, role="cell", text="12.50", box=Box(100, 70, 100, 20)),
    ]
    return PageObservation(
        url="http://shop.test/orders",
        title="Orders",
        elements=[
            PageElement(id=0, role="button", name="Refresh", box=Box(0, 0, 80, 20)),
            *(table if with_table else []),
        ],
    )


async def run(store: EventStore, task_id: str, with_table: bool) -> list[object]:
    p = Planner(store=lambda: store, backend=lambda: InProcessBackend())
    submitted = TaskSubmitted(
        task_id=task_id,
        goal='Click the "Refresh" button',
        start_url="http://shop.test/orders",
        output_schema=ORDERS,
    )
    await p.on_task_event(await append(store, submitted, task_id))
    await observe(store, p, 0, page(with_table), task_id=task_id)  # -> click Refresh
    await observe(store, p, 1, page(with_table), task_id=task_id)  # -> done
    return list(await task_events(store, task_id))


async def test_the_run_ends_with_the_extracted_valid_output(store: EventStore) -> None:
    end = (await run(store, "t-res", with_table=True))[-1]
    assert isinstance(end, TaskCompleted), end
    assert end.output == {"orders": [{"id": "1041", "total": 12.5}]}


async def test_an_output_that_does_not_validate_fails_the_run_with_the_error(
    store: EventStore,
) -> None:
    end = (await run(store, "t-bad", with_table=False))[-1]
    assert isinstance(end, TaskFailed), end
    assert end.reason == ("result does not match output_schema: orders: [] should be non-empty")


def test_validation_errors_say_where() -> None:
    bad = {"orders": [{"id": 7, "total": 1}]}
    assert validation_error(ORDERS, bad) == "orders/0/id: 7 is not of type 'string'"
    assert validation_error(ORDERS, {"orders": [{"id": "1", "total": 1}]}) == ""

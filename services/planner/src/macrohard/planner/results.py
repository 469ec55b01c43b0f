"""Structured results: a run with an output_schema ends with `output`, valid, or fails.

When the model says the goal is done, the values the schema asks for are read from the page
the run ended on (the planner model's extraction: tables, labels, list items) and validated
against the schema (JSON Schema 2020-12). Valid: TaskCompleted carries them as `output`.
Invalid or missing: the run fails with the validation error, so a tenant's system never
receives a result of the wrong shape.

Extraction runs here, beside the schema, rather than on a car: it reads the observation the
planner already holds, takes microseconds and has no weights, so leasing a car for it
would cost more than it does.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from macrohard.contracts.browser import PageObservation
from macrohard.contracts.envelope import Event
from macrohard.contracts.tasks import TaskCompleted, TaskFailed
from macrohard.planner.domain import TaskState
from macrohard.planner_model.web_planner.extract import extract


def validation_error(schema: dict[str, Any], value: Any) -> str:
    """'' when `value` is valid against `schema`, else the most relevant error, with where."""
    error = best_match(Draft202012Validator(schema).iter_errors(value))
    if error is None:
        return ""
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


def with_result(events: list[Event], state: TaskState, observation: PageObservation) -> list[Event]:
    """The decided events, with the run's end carrying the extracted result (or failing)."""
    schema = state.output_schema
    if schema is None or not events or not isinstance(events[-1], TaskCompleted):
        return events
    done = events[-1]
    output = extract(schema, observation)
    error = validation_error(schema, output)
    if error:
        failed = TaskFailed(
            task_id=done.task_id,
            steps=done.steps,
            reason=f"result does not match output_schema: {error}"[:1000],
        )
        return [*events[:-1], failed]
    completed = TaskCompleted(
        task_id=done.task_id, steps=done.steps, result=done.result, output=output
    )
    return [*events[:-1], completed]

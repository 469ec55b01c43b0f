"""Structured results: a run with an output_schema ends with `output`, valid, or fails.

During the run, an `extract` intent (the model emits it on the page that shows the data)
has the actuator read the values the schema asks for; each answer is in the log on its
PageObserved (`extracted`). When the model says the goal is done, those extractions are
merged in order (objects key by key, arrays appended, a later scalar wins) into the result;
a run that never extracted reads the page it ended on instead. The result is validated
against the schema (JSON Schema 2020-12). Valid: TaskCompleted carries it as `output`.
Invalid or missing: the run fails with the validation error, so a tenant's system never
receives a result of the wrong shape.

Extraction runs here, beside the schema, rather than on a car: it reads the observation the
planner already holds, takes microseconds and has no weights, so leasing a car for it
would cost more than it does.
"""

from __future__ import annotations

from typing import Any

import msgspec
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


def _merge(before: Any, after: Any) -> Any:
    if before is None or before == "":
        return after
    if after is None or after == "":
        return before
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [*before, *(k for k in after if k not in before)]
        return {k: _merge(before.get(k), after.get(k)) for k in keys}
    if isinstance(before, list) and isinstance(after, list):
        # The same page read twice adds nothing; the next page of a table adds its rows.
        return before + [item for item in after if item not in before]
    return after


def merged(extractions: list[Any]) -> Any:
    """The run's extractions, in log order, as one value (None when there were none)."""
    out: Any = None
    for value in extractions:
        out = _merge(out, value)
    return out


def ends_with_completion(events: list[Event]) -> bool:
    return bool(events) and isinstance(events[-1], TaskCompleted)


def with_result(
    events: list[Event],
    state: TaskState,
    observation: PageObservation,
    extractions: list[Any] | None = None,
) -> list[Event]:
    """The decided events, with the run's end carrying the extracted result (or failing).

    `extractions`: what the run's `extract` intents read, in order; without any, the page the
    run ended on is read."""
    schema = state.output_schema
    if schema is None or not ends_with_completion(events):
        return events
    done = events[-1]
    assert isinstance(done, TaskCompleted)
    output = merged(extractions) if extractions else extract(schema, observation)
    error = validation_error(schema, output)
    if error:
        failed = TaskFailed(
            task_id=done.task_id,
            steps=done.steps,
            reason=f"result does not match output_schema: {error}"[:1000],
            replayed_steps=done.replayed_steps,
            model_steps=done.model_steps,
        )
        return [*events[:-1], failed]
    completed = msgspec.structs.replace(done, output=output)
    return [*events[:-1], completed]

"""The OpenAPI document's links: which answer feeds which next request.

An OpenAPI `link` says "the `task_id` in this 202 is the `task_id` of GET /v1/tasks/{id}".
Clients may follow them; schemathesis does, in its stateful run (tests/gateway), so the
operations that act on a resource are tried on resources that exist, not only on ids made
up (which all end at a 404 before reaching the interesting code).

The SSE stream (`/v1/tasks/{task_id}/events`) is left out on purpose: on a real task it
answers for as long as the task runs, which no bounded test run should wait for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Link:
    """From one operation's answer (`status`) to another operation, with where each of
    the target's parameters comes from (a runtime expression on the answer)."""

    source: str  # operationId
    status: str
    name: str
    target: str  # operationId
    parameters: tuple[tuple[str, str], ...]


def _from_body(field: str) -> tuple[tuple[str, str], ...]:
    return ((field, f"$response.body#/{field}"),)


TASK_ID = _from_body("task_id")
SCHEDULE_ID = _from_body("schedule_id")
KEY_ID = _from_body("key_id")

LINKS: tuple[Link, ...] = (
    # A tenant's first key; another tenant trying to revoke it must get a 404.
    Link("V1TenantsCreateTenant", "201", "RevokeFirstKey", "V1ApiKeysKeyIdRevokeKey", KEY_ID),
    Link("V1ApiKeysIssueKey", "201", "RevokeKey", "V1ApiKeysKeyIdRevokeKey", KEY_ID),
    Link("V1TasksSubmitTask", "202", "GetTask", "V1TasksTaskIdGetTask", TASK_ID),
    Link("V1TasksSubmitTask", "202", "CancelTask", "V1TasksTaskIdCancelCancelTask", TASK_ID),
    Link(
        "V1TasksSubmitTask", "202", "AnswerApproval", "V1TasksTaskIdApprovalAnswerApproval", TASK_ID
    ),
    Link("V1TasksTaskIdCancelCancelTask", "202", "GetTask", "V1TasksTaskIdGetTask", TASK_ID),
    Link(
        "V1SchedulesCreateSchedule",
        "201",
        "GetSchedule",
        "V1SchedulesScheduleIdGetSchedule",
        SCHEDULE_ID,
    ),
    Link(
        "V1SchedulesCreateSchedule",
        "201",
        "PauseSchedule",
        "V1SchedulesScheduleIdPausePauseSchedule",
        SCHEDULE_ID,
    ),
    Link(
        "V1SchedulesCreateSchedule",
        "201",
        "ResumeSchedule",
        "V1SchedulesScheduleIdResumeResumeSchedule",
        SCHEDULE_ID,
    ),
    Link(
        "V1SchedulesCreateSchedule",
        "201",
        "ListRuns",
        "V1SchedulesScheduleIdRunsListRuns",
        SCHEDULE_ID,
    ),
    Link(
        "V1SchedulesCreateSchedule",
        "201",
        "DeleteSchedule",
        "V1SchedulesScheduleIdDeleteSchedule",
        SCHEDULE_ID,
    ),
)


def with_links(doc: dict[str, Any], links: tuple[Link, ...] = LINKS) -> dict[str, Any]:
    """`doc` (an OpenAPI document as a dict) with `links` on the answers they start from.

    Raises KeyError when a link names an operation or answer the document does not have:
    a renamed handler must not silently drop its links.
    """
    operations = {
        op["operationId"]: op
        for path in doc.get("paths", {}).values()
        for op in path.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for link in links:
        if link.target not in operations:
            raise KeyError(f"link {link.name}: no operation {link.target}")
        answer = operations[link.source]["responses"][link.status]
        answer.setdefault("links", {})[link.name] = {
            "operationId": link.target,
            "parameters": dict(link.parameters),
        }
    return doc

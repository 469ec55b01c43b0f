"""schemathesis, stateful: sequences of calls that follow the OpenAPI document's links.

The stateless run (test_openapi_fuzz.py) tries each operation on its own, so an operation
on a resource mostly meets ids made up on the spot, and a 404. Here schemathesis submits
tasks, creates schedules and keys, and then gets, cancels, approves, pauses, resumes,
deletes and revokes *those*, with generated (often malformed) inputs around them. Every
answer must conform to the document, no answer may be a 5xx, and every refusal must be an
RFC 9457 problem+json.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import HookContext
from schemathesis.checks import CheckContext

from macrohard.gateway.openapi_links import LINKS
from tests.gateway.conftest import ADMIN, TASK, RunningGateway
from tests.gateway.test_openapi_fuzz import CHECKS as FUZZ_CHECKS
from tests.gateway.test_openapi_fuzz import fuzz_target

PROBLEM_JSON = "application/problem+json"
# Bounded: a few dozen short scenarios keep the run well under a minute.
SCENARIOS = 15
STEPS_PER_SCENARIO = 5


def refusals_are_problems(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A refused request is told why in RFC 9457 form, whatever refused it."""
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith(PROBLEM_JSON), (
            f"{case.method} {case.formatted_path} -> {response.status_code} {content_type}"
        )
    return None


CHECKS = [*FUZZ_CHECKS, refusals_are_problems]


def sometimes_accepted(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Half the task and schedule bodies as generated, half made acceptable.

    A random `https://\\S+` is almost never an address the platform will browse, and a
    random cron almost never a schedule: without help, no task or schedule would exist
    for the links to lead to. The other half stay as malformed as schemathesis makes them.
    """
    op = context.operation
    if op is None or op.method.upper() != "POST" or not isinstance(body, dict):
        return st.just(body)
    usable = {"start_url": TASK["start_url"], "webhook_url": None}
    if op.path == "/v1/tasks":
        fixed = {**_known(body, ("goal", "max_steps", "car_wait_s")), **usable}
    elif op.path == "/v1/schedules" and isinstance(body.get("template"), dict):
        template = {**_known(body["template"], ("goal", "max_steps")), **usable}
        fixed = {**_known(body, ("name",)), "cron": "*/5 * * * *", "template": template}
    else:
        return st.just(body)
    return st.sampled_from([body, fixed])


def _known(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    # The document allows other fields; the gateway refuses them (a 422 either way).
    return {k: v for k, v in body.items() if k in fields}


def run_stateful(
    base_url: str, doc: dict[str, Any], api_key: str
) -> tuple[list[tuple[str, str, int]], set[str]]:
    """Run the state machine: every call made as (operationId, path, status), and the ids
    of what it created (tasks, schedules, keys)."""
    # The SSE stream answers for as long as a task runs: not for a bounded run.
    schema = schemathesis.openapi.from_dict(doc).exclude(path_regex=r"/events$")
    schema.hook("flatmap_body")(sometimes_accepted)
    calls: list[tuple[str, str, int]] = []
    created: set[str] = set()

    class Gateway(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            # Onboarding is the operator's; everything else is one tenant's (in place of
            # the credentials schemathesis makes up for the bearer scheme).
            token = ADMIN if case.path == "/v1/tenants" else api_key
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": base_url}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            operation_id = case.operation.definition.raw.get("operationId", "")
            calls.append((operation_id, case.formatted_path, response.status_code))
            if response.status_code in (201, 202):
                body = response.json()
                created.update(
                    str(body[k]) for k in ("task_id", "schedule_id", "key_id") if k in body
                )

        def validate_response(
            self, response: Any, case: schemathesis.Case, *args: Any, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    Gateway.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS_PER_SCENARIO,
            deadline=None,
            database=None,
            derandomize=True,  # the same scenarios on every run: a failure reproduces
            suppress_health_check=list(HealthCheck),
        )
    )
    return calls, created


async def test_schemathesis_follows_the_links_and_never_answers_5xx(gw: RunningGateway) -> None:
    t, doc = await fuzz_target(gw)
    # The document carries every declared link.
    declared = {
        (op["operationId"], status, name)
        for path in doc["paths"].values()
        for op in path.values()
        for status, answer in op["responses"].items()
        for name in answer.get("links", {})
    }
    assert declared == {(link.source, link.status, link.name) for link in LINKS}
    # schemathesis is synchronous; the gateway serves on this loop, so run it from a thread.
    calls, created = await asyncio.to_thread(run_stateful, gw.url, doc, t.api_key)
    summary = collections.Counter((op, status) for op, _, status in calls)
    assert all(status < 500 for _, _, status in calls), summary
    # The links were followed: tasks and schedules the run created were then acted on by
    # their real ids (read, cancelled, answered, paused, deleted...).
    followed = {
        op for op, path, _ in calls if any(f"/{created_id}" in path for created_id in created)
    }
    assert {op for op in followed if op.startswith("V1TasksTaskId")}, summary
    assert {op for op in followed if op.startswith("V1SchedulesScheduleId")}, summary

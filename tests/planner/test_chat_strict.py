"""The chat backend asks for a strict response format built from the task's output_schema.

The peer is a local HTTP server speaking chat completions that enforces what a strict
structured-outputs endpoint enforces: a `json_schema` response format with `strict: true`,
a valid JSON Schema in which every object is closed and lists all of its properties as
required. A request that breaks a rule gets a 400 (as such an endpoint answers), so the
backend only gets its answer when the request is right; the answer itself is checked against
the schema the request carried before it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.devkit.pages import LocalSite, PageReply, PageRequest
from macrohard.planner.backends import DecisionRequest
from macrohard.planner.chat import ChatBackend, ChatConfig
from macrohard.planner.results import validation_error

ORDERS: dict[str, Any] = {
    "type": "object",
    "required": ["orders"],
    "properties": {
        "orders": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}, "total": {"type": "number"}},
            },
        },
        "customer": {"type": "string"},
    },
}


def strict_violations(schema: Any, where: str = "") -> list[str]:
    """What a strict structured-outputs endpoint refuses: an open object, or one whose
    properties are not all required."""
    out: list[str] = []
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            if schema.get("additionalProperties") is not False:
                out.append(f"{where or '/'}: additionalProperties must be false")
            if sorted(schema.get("required", [])) != sorted(props):
                out.append(f"{where or '/'}: every property must be required")
        for key, sub in schema.items():
            if isinstance(sub, dict):
                subs = sub.values() if key in ("properties", "$defs") else [sub]
                for s in subs:
                    out.extend(strict_violations(s, f"{where}/{key}"))
            elif isinstance(sub, list):
                for s in sub:
                    out.extend(strict_violations(s, f"{where}/{key}"))
    return out


@dataclass
class StrictEndpoint:
    answers: list[dict[str, Any]]
    refusals: list[str] = field(default_factory=list)
    formats: list[Any] = field(default_factory=list)
    url: str = ""

    def check(self, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        fmt = body.get("response_format")
        self.formats.append(fmt)
        if fmt is None:
            return "", None
        if fmt.get("type") != "json_schema" or not isinstance(fmt.get("json_schema"), dict):
            return "response_format.type must be json_schema", None
        spec = fmt["json_schema"]
        if spec.get("strict") is not True or not spec.get("name"):
            return "json_schema needs a name and strict: true", None
        schema = spec.get("schema")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            return f"not a JSON Schema: {exc.message}", None
        problems = strict_violations(schema)
        return "; ".join(problems), schema


@pytest.fixture
def endpoint() -> Iterator[StrictEndpoint]:
    model = StrictEndpoint(answers=[])

    def answer(request: PageRequest) -> PageReply:
        body = json.loads(request.body)
        problem, schema = model.check(body)
        if problem:
            model.refusals.append(problem)
            error = {"error": {"message": problem, "type": "invalid_request_error"}}
            return PageReply(status=400, body=json.dumps(error), content_type="application/json")
        content = model.answers.pop(0)
        if schema is not None:
            # A strict endpoint's answers always fit the format: ours too, or the test is wrong.
            assert validation_error(schema, content) == "", validation_error(schema, content)
        completion = {
            "id": "c1",
            "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps(content)}}],
        }  # fmt: skip
        return PageReply(body=json.dumps(completion), content_type="application/json")

    with LocalSite(answer) as site:
        model.url = site.url("/v1")
        yield model


def request(schema: dict[str, Any] | None) -> DecisionRequest:
    return DecisionRequest(
        tenant="acme",
        task_id="t1",
        step=2,
        goal="Extract the orders",
        observation=PageObservation(
            url="http://shop.test/orders",
            title="Orders",
            elements=[PageElement(id=1, role="cell", text="1041")],
        ),
        history=[],
        output_schema=schema,
    )


async def ask(endpoint: StrictEndpoint, schema: dict[str, Any] | None) -> Any:
    backend = ChatBackend(ChatConfig(url=endpoint.url, model="grok-test", attempts=1))
    try:
        return await backend.next_intent(request(schema))
    finally:
        await backend.close()


NO_ARGS = {
    "element": None, "text": None, "url": None, "keys": None, "values": [],
    "target_element": None, "x": None, "y": None, "hold_ms": 0,
}  # fmt: skip


async def test_the_output_schema_is_the_strict_response_format_of_each_step(
    endpoint: StrictEndpoint,
) -> None:
    endpoint.answers = [{
        "action": "extract", **NO_ARGS, "reason": "the orders table",
        "data": {"orders": [{"id": "1041", "total": 12.5}, {"id": "1042", "total": None}],
                 "customer": None},
    }]  # fmt: skip
    intent = await ask(endpoint, ORDERS)
    assert endpoint.refusals == []
    assert intent.action == "extract"
    # The nulls that stood for absent optional properties are gone: the original schema holds.
    assert intent.data == {"orders": [{"id": "1041", "total": 12.5}, {"id": "1042"}]}
    assert validation_error(ORDERS, intent.data) == ""
    data = endpoint.formats[0]["json_schema"]["schema"]["properties"]["data"]
    orders = data["anyOf"][0]["properties"]["orders"]
    assert orders["items"]["properties"]["id"] == {"type": "string"}


async def test_other_actions_carry_no_data_and_no_schema_means_no_format(
    endpoint: StrictEndpoint,
) -> None:
    endpoint.answers = [
        {"action": "click", **NO_ARGS, "element": 1, "reason": "open", "data": None},
        {"action": "click", "element": 1, "reason": "open"},
    ]
    first = await ask(endpoint, ORDERS)
    assert (first.action, first.data) == ("click", None)
    second = await ask(endpoint, None)
    assert second.action == "click"
    assert endpoint.formats[1] is None and endpoint.refusals == []


def test_the_peer_refuses_a_schema_that_is_not_strict() -> None:
    # The endpoint's rule is live: the tenant's schema as written would be refused.
    assert strict_violations(ORDERS) != []
    from macrohard.planner.strict import to_strict

    assert strict_violations(to_strict(ORDERS)) == []

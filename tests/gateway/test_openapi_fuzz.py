"""schemathesis against the running gateway's /openapi.json: no 5xx, every response conforms."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.gateway.conftest import TASK, RunningGateway, Tenant, onboard

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 12


def fuzz(base_url: str, schema_doc: dict, api_key: str) -> tuple[list[str], list[int]]:
    schema = schemathesis.openapi.from_dict(schema_doc)
    auth = {"Authorization": f"Bearer {api_key}"}
    tried: list[str] = []
    calls: list[int] = []
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        for result in schema.get_all_operations():
            op = result.ok()
            tried.append(f"{op.method.upper()} {op.path}")

            @given(case=op.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                kwargs = case.as_transport_kwargs(base_url=base_url, headers=auth)
                kwargs.pop("url", None)
                response = http.request(
                    case.method,
                    case.formatted_path,
                    **{
                        k: v
                        for k, v in kwargs.items()
                        if k in ("headers", "params", "content", "json")
                    },
                )
                calls.append(response.status_code)
                case.validate_response(response, checks=CHECKS)

            run()
    return tried, calls


async def fuzz_target(gw: RunningGateway) -> tuple[Tenant, dict[str, Any]]:
    """A tenant with one task, and the gateway's OpenAPI document."""
    t = await onboard(gw, domains=())  # no domain limit: generated start_urls can be accepted
    async with gw.client(t.api_key) as c:
        assert (await c.post("/v1/tasks", json=TASK)).status_code == 202
        doc = (await c.get("/openapi.json")).json()
    return t, doc


async def test_schemathesis_no_5xx_and_conforming(gw: RunningGateway) -> None:
    t, doc = await fuzz_target(gw)
    assert doc["openapi"].startswith("3.1")
    # schemathesis is synchronous; the gateway serves on this loop, so fuzz from a thread.
    tried, statuses = await asyncio.to_thread(fuzz, gw.url, doc, t.api_key)
    assert "POST /v1/tasks" in tried and "GET /v1/tasks/{task_id}" in tried
    # It really reached the handlers: accepted tasks and rejected inputs both occurred.
    assert len(statuses) >= 5 * len(tried) and {202, 422} <= set(statuses)

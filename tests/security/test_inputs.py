"""Point 8: crafted input gets a 4xx problem+json (never a 500), and the gateway reads a URL
exactly as Chromium will (WHATWG), so a tenant's domain check cannot be talked around."""

from __future__ import annotations

import base64

import pytest

from tests.gateway.conftest import TASK, RunningGateway, onboard


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        # Each of these was answered 500 or accepted (2xx) before the fix (docs/security.md).
        (f"/v1/tasks?cursor={cursor_of('s' + '9' * 40)}", None),
        (f"/v1/tasks?cursor={cursor_of('s-1')}", None),
        ("/v1/tasks", {**TASK, "start_url": "http://[::1"}),
        ("/v1/tasks", {**TASK, "webhook_url": "http://[::1"}),
        ("/v1/tasks", {**TASK, "webhook_url": "http://169.254.169.254/latest"}),
        # Chromium goes to evil.com (a backslash ends the host): so does the domain check.
        ("/v1/tasks", {**TASK, "start_url": "https://evil.com\\@example.com/"}),
        ("/v1/tasks", {**TASK, "start_url": "https://evil.com\\.example.com/"}),
        # A host Chromium refuses to parse (an escaped backslash in it) is no example.com.
        ("/v1/tasks", {**TASK, "start_url": "https://evil.com%5c.example.com/"}),
    ],
)
async def test_malformed_or_misleading_input_is_a_4xx_problem(
    production_gateway: RunningGateway, path: str, body: dict[str, object] | None
) -> None:
    tenant = await onboard(production_gateway, domains=("example.com",))
    async with production_gateway.client(tenant.api_key) as client:
        r = await (client.get(path) if body is None else client.post(path, json=body))
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")

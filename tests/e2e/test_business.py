"""Issue 14's "Done when", end to end on a local back office (tests/e2e/shop.py).

Through the public API only, against the whole platform (gateway, planner, actuator with
Chromium, two scheduler replicas): a task signs in with a sealed password and a TOTP code,
filters the orders and extracts the shipped ones into a schema-valid `output` on the orders
page, then goes on to another page and finishes; a second task reuses the saved session and
the site sees no second login; a task that reaches "Delete" pauses for approval and goes on
after it; a schedule every minute yields exactly one task per tick.

The tests of this module run in order and share one platform, one tenant and one site.
"""

from __future__ import annotations

from typing import Any

import pytest

from macrohard.devkit.pages import LocalSite
from tests.e2e.conftest import Platform, until
from tests.e2e.shop import PASSWORD, TOTP_SEED, Shop
from tests.gateway.conftest import Tenant, onboard

SHIPPED: dict[str, Any] = {
    "type": "object",
    "required": ["orders"],
    "properties": {
        "orders": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "customer", "status", "total"],
                "properties": {
                    "id": {"type": "string", "title": "Order"},
                    "customer": {"type": "string"},
                    "status": {"const": "Shipped"},
                    "total": {"type": "number"},
                },
            },
        }
    },
}
LOGIN = (
    'Type "ada" into Username, type {{secret:password}} into Password, click "Sign in", '
    'type {{totp:crm}} into Code, click "Verify"'
)


@pytest.fixture(scope="module")
async def tenant(platform: Platform) -> Tenant:
    return await onboard(platform.gateway, domains=("127.0.0.1",))


async def test_a_task_logs_in_with_2fa_and_extracts_the_shipped_orders(
    platform: Platform, tenant: Tenant, shop: tuple[Shop, LocalSite]
) -> None:
    state, site = shop
    goal = (
        f'{LOGIN}, select "Shipped" from the Status list, click "Filter", '
        'extract the orders, then click the "Account" link'
    )
    async with platform.gateway.client(tenant.api_key) as c:
        r = await c.post("/v1/tasks", json={
            "goal": goal, "start_url": site.url("/login"), "max_steps": 20,
            "secrets": {"password": PASSWORD}, "totp": {"crm": TOTP_SEED},
            "output_schema": SHIPPED,
        })  # fmt: skip
        assert r.status_code == 202, r.text
        done = await until(c, r.json()["task_id"], {"completed", "failed", "cancelled"})
    assert done["status"] == "completed", done
    # Extracted on the filtered orders page, finished on the account page (no table there).
    assert done["output"] == {
        "orders": [
            {"id": "1041", "customer": "Ada Lovelace", "status": "Shipped", "total": 120.5},
            {"id": "1043", "customer": "Grace Hopper", "status": "Shipped", "total": 42.0},
        ]
    }
    assert state.logins == 1 and state.signed_in_views[-1] == "/account"


async def test_an_output_that_does_not_validate_fails_the_task(
    platform: Platform, tenant: Tenant, shop: tuple[Shop, LocalSite]
) -> None:
    _, site = shop
    async with platform.gateway.client(tenant.api_key) as c:
        r = await c.post("/v1/tasks", json={
            "goal": 'Extract the status', "start_url": site.url("/status"),
            "output_schema": {"type": "object", "required": ["outage"],
                              "properties": {"outage": {"type": "string"}}},
        })  # fmt: skip
        assert r.status_code == 202, r.text
        failed = await until(c, r.json()["task_id"], {"completed", "failed", "cancelled"})
    assert failed["status"] == "failed", failed
    assert failed["reason"] == (
        "result does not match output_schema: (root): 'outage' is a required property"
    ), failed

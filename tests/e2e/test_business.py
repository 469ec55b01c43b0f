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

import asyncio
import contextlib
from typing import Any

import httpx
import nats
import nats.js.errors
import pytest

from macrohard.contracts.subjects import EVENTS_STREAM
from macrohard.devkit.pages import LocalSite
from macrohard.eventlog.artifacts import artifact_id_of
from tests.e2e.conftest import Platform, until
from tests.e2e.shop import CSV, PASSWORD, TOTP_SEED, Shop
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
INVOICE = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
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
        'extract the orders, click the "Export CSV" link, then click the "Account" link'
    )
    async with platform.gateway.client(tenant.api_key) as c:
        r = await c.post("/v1/tasks", json={
            "goal": goal, "start_url": site.url("/login"), "max_steps": 20,
            "secrets": {"password": PASSWORD}, "totp": {"crm": TOTP_SEED},
            "output_schema": SHIPPED, "session": "crm",
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
    # The export was downloaded and kept as an artifact of the task, fetched with the key.
    csv_id = artifact_id_of(CSV)
    kept = [(a["artifact_id"], a["name"], a["source"]) for a in done["artifacts"]]
    assert kept == [(csv_id, "orders.csv", "download")]
    async with platform.gateway.client(tenant.api_key) as c:
        fetched = await c.get(f"/v1/artifacts/{csv_id}")
    assert fetched.status_code == 200 and fetched.content == CSV


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


async def saved(c: httpx.AsyncClient, name: str) -> dict[str, Any]:
    """The session once its holder's browser state is sealed in (the actuator does it as the
    task ends, a moment after the task shows completed)."""
    view: dict[str, Any] = {}
    for _ in range(100):
        view = (await c.get(f"/v1/sessions/{name}")).json()
        if view.get("status") == "saved":
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"session {name} stayed {view}")


async def log_bytes(nats_url: str) -> bytes:
    """Every message of the event log, raw: what anyone reading the log could see."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        out = []
        for seq in range(1, last + 1):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                out.append((await js.get_msg(EVENTS_STREAM, seq)).data or b"")
        return b"\n".join(out)
    finally:
        await nc.close()


async def test_a_second_task_reuses_the_saved_session_without_logging_in(
    platform: Platform, tenant: Tenant, shop: tuple[Shop, LocalSite], e2e_nats_url: str
) -> None:
    state, site = shop
    async with platform.gateway.client(tenant.api_key) as c:
        view = await saved(c, "crm")
        assert view["size_bytes"] > 0 and view["expires_at"] and "state" not in view
        r = await c.post("/v1/tasks", json={
            "goal": 'Click the "Account" link', "start_url": site.url("/orders"),
            "session": "crm",
        })  # fmt: skip
        assert r.status_code == 202, r.text
        # One task at a time per session: a second one now is refused, nothing written.
        busy = await c.post("/v1/tasks", json={
            "goal": 'Click the "Account" link', "start_url": site.url("/orders"),
            "session": "crm",
        })  # fmt: skip
        assert busy.status_code == 409, busy.text
        assert "in use" in busy.json()["detail"]
        done = await until(c, r.json()["task_id"], {"completed", "failed", "cancelled"})
        assert done["status"] == "completed", done
        await saved(c, "crm")
    # The site saw the signed-in pages and no second login.
    assert (state.logins, state.password_posts) == (1, 1)
    assert state.signed_in_views[-2:] == ["/orders", "/account"]
    # The cookies are only ever in the log sealed.
    raw = await log_bytes(e2e_nats_url)
    assert state.sessions and not any(sid.encode() in raw for sid in state.sessions)


async def test_a_task_under_the_session_uploads_a_file_it_brings(
    platform: Platform, tenant: Tenant, shop: tuple[Shop, LocalSite]
) -> None:
    state, site = shop
    async with platform.gateway.client(tenant.api_key) as c:
        r = await c.post("/v1/artifacts", params={"name": "invoice.pdf"}, content=INVOICE,
                         headers={"Content-Type": "application/pdf"})  # fmt: skip
        assert r.status_code == 201, r.text
        r = await c.post("/v1/tasks", json={
            "goal": 'Upload "invoice.pdf" to Invoice and click "Upload"',
            "start_url": site.url("/upload"), "session": "crm",
            "files": [r.json()["artifact_id"]],
        })  # fmt: skip
        assert r.status_code == 202, r.text
        done = await until(c, r.json()["task_id"], {"completed", "failed", "cancelled"})
        assert done["status"] == "completed", done
        await saved(c, "crm")
    # Received byte for byte, by the signed-in form (no login: the session).
    assert state.uploads == [("invoice.pdf", INVOICE)] and state.logins == 1


async def test_a_delete_pauses_for_approval_and_continues_after_it(
    platform: Platform, tenant: Tenant, shop: tuple[Shop, LocalSite]
) -> None:
    state, site = shop
    async with platform.gateway.client(tenant.api_key) as c:
        r = await c.put("/v1/approval-policy", json={"labels": ["delete"]})
        assert r.status_code == 200, r.text
        r = await c.post("/v1/tasks", json={
            "goal": 'Click the "Delete order 1042" button', "start_url": site.url("/orders"),
            "session": "crm",
        })  # fmt: skip
        assert r.status_code == 202, r.text
        task_id = r.json()["task_id"]
        paused = await until(c, task_id, {"awaiting_approval", "completed", "failed"})
        assert paused["status"] == "awaiting_approval", paused
        held = paused["pending_approval"]
        assert held["element_label"] == "button 'Delete order 1042'"
        assert state.deleted == []  # nothing clicked while paused
        ok = await c.post(f"/v1/tasks/{task_id}/approval",
                          json={"step": held["step"], "approve": True})  # fmt: skip
        assert ok.status_code == 202, ok.text
        done = await until(c, task_id, {"completed", "failed", "cancelled"})
        assert done["status"] == "completed", done
        await saved(c, "crm")
        r = await c.delete("/v1/sessions/crm")
        assert r.status_code == 204, r.text
        assert (await c.get("/v1/sessions/crm")).json()["status"] == "empty"
    assert state.deleted == ["1042"] and state.logins == 1 and state.password_posts == 1


async def test_a_schedule_every_minute_makes_one_task_per_tick_with_two_schedulers(
    platform: Platform, tenant: Tenant, shop: tuple[Shop, LocalSite]
) -> None:
    _, site = shop
    async with platform.gateway.client(tenant.api_key) as c:
        r = await c.post("/v1/schedules", json={
            "name": "status check", "cron": "* * * * *",
            "template": {"goal": 'Click the "Refresh" link', "start_url": site.url("/status")},
        })  # fmt: skip
        assert r.status_code == 201, r.text
        sid = r.json()["schedule_id"]
        runs: list[dict[str, Any]] = []
        for _ in range(200):  # three scheduler minutes are three wall-clock seconds
            runs = (await c.get(f"/v1/schedules/{sid}/runs")).json()["data"]
            if len(runs) >= 3:
                break
            await asyncio.sleep(0.1)
        r = await c.post(f"/v1/schedules/{sid}/pause")
        assert r.status_code == 200, r.text
        runs = (await c.get(f"/v1/schedules/{sid}/runs")).json()["data"]
        ticks = [run["scheduled_for"] for run in runs]
        assert len(runs) >= 3 and len(set(ticks)) == len(ticks)  # one task per tick
        assert len({run["task_id"] for run in runs}) == len(runs)
        for run in runs:
            done = await until(c, run["task_id"], {"completed", "failed", "cancelled"})
            assert done["status"] == "completed", done

"""Approvals end to end: gateway, planner, actuator (real Chromium) and a local web app.

A tenant's policy names "delete"; a task whose goal reaches the "Delete order" button pauses
before clicking it (the site never sees the delete), shows the held step through the API,
and after the tenant approves, the click happens and the task completes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from macrohard.devkit.pages import LocalSite, fixed_pages
from tests.gateway.conftest import RunningGateway, onboard, running_platform, task_until

ORDERS = """<!doctype html><html><head><title>Orders</title></head><body>
<h1>Orders</h1><table><tr><th>Order</th><th>Total</th></tr>
<tr><td>1042</td><td>80.00</td></tr></table>
<form action="/deleted"><button type="submit">Delete order 1042</button></form>
</body></html>"""
DELETED = "<!doctype html><title>Deleted</title><p>Order 1042 deleted.</p>"


@pytest.fixture
async def platform(
    nats_url: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningGateway]:
    monkeypatch.setenv("MH_LOCAL_TEST_MODE", "1")
    monkeypatch.setenv("MH_DATA_DIR", str(tmp_path))
    async with running_platform(nats_url, database_url) as gw:
        yield gw


async def test_a_delete_pauses_for_approval_and_continues_after_it(
    platform: RunningGateway,
) -> None:
    t = await onboard(platform, domains=("127.0.0.1",))
    with LocalSite(fixed_pages({"/orders": ORDERS, "/deleted": DELETED})) as site:
        async with platform.client(t.api_key) as c:
            r = await c.put("/v1/approval-policy", json={"labels": ["delete"]})
            assert r.status_code == 200, r.text
            r = await c.post("/v1/tasks", json={
                "goal": 'Click the "Delete order 1042" button',
                "start_url": site.url("/orders"),
            })  # fmt: skip
            assert r.status_code == 202, r.text
            task_id = r.json()["task_id"]
            paused = await task_until(c, task_id, {"awaiting_approval", "completed", "failed"})
            assert paused["status"] == "awaiting_approval", paused
            held = paused["pending_approval"]
            assert held["intent"]["action"] == "click" and "delete" in held["why"]
            assert held["element_label"] == "button 'Delete order 1042'"
            await asyncio.sleep(0.5)
            assert not any(h.startswith("/deleted") for h in site.hits)  # nothing clicked yet

            wrong = await c.post(f"/v1/tasks/{task_id}/approval",
                                 json={"step": held["step"] + 1, "approve": True})  # fmt: skip
            assert wrong.status_code == 409
            ok = await c.post(f"/v1/tasks/{task_id}/approval",
                              json={"step": held["step"], "approve": True})  # fmt: skip
            assert ok.status_code == 202, ok.text
            done = await task_until(c, task_id, {"completed", "failed", "cancelled"})
    assert done["status"] == "completed", done
    assert any(h.startswith("/deleted") for h in site.hits)

"""Approvals end to end: gateway, planner, actuator (real Chromium) and a local web app.

A tenant's policy names "delete"; a task whose goal reaches the "Delete order" button pauses
before clicking it (the site never sees the delete), shows the held step through the API,
and after the tenant approves, the click happens and the task completes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from macrohard.actuator.main import build as build_actuator
from macrohard.devkit.pages import LocalSite, fixed_pages
from macrohard.eventlog import Service, ServiceConfig
from macrohard.planner.main import build as build_planner
from tests.gateway.conftest import RunningGateway, onboard, running_gateway

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
    planner = Service(ServiceConfig("planner", nats_url=nats_url, extra={"backend": "in-process"}))
    build_planner(planner)
    actuator = Service(ServiceConfig("actuator", nats_url=nats_url))
    build_actuator(actuator)
    halt = asyncio.Event()
    jobs = [asyncio.create_task(s.run(halt)) for s in (planner, actuator)]
    try:
        async with running_gateway(nats_url, database_url) as gw:
            yield gw
    finally:
        halt.set()
        await asyncio.gather(*jobs, return_exceptions=True)


async def until(c: httpx.AsyncClient, task_id: str, statuses: set[str]) -> dict[str, Any]:
    for _ in range(900):
        view: dict[str, Any] = (await c.get(f"/v1/tasks/{task_id}")).json()
        if view["status"] in statuses:
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"task {task_id} stayed {view['status']}")


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
            paused = await until(c, task_id, {"awaiting_approval", "completed", "failed"})
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
            done = await until(c, task_id, {"completed", "failed", "cancelled"})
    assert done["status"] == "completed", done
    assert any(h.startswith("/deleted") for h in site.hits)

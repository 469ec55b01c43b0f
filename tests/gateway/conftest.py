"""A real gateway (Service + projection + uvicorn) over the test's real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from macrohard.actuator.main import build as build_actuator
from macrohard.billing.main import build as build_billing
from macrohard.devkit.embedded import free_port
from macrohard.eventlog import Service, ServiceConfig
from macrohard.gateway.context import GatewaySettings
from macrohard.gateway.main import Gateway
from macrohard.gateway.secrets import decode_master_key, new_master_key
from macrohard.planner.main import build as build_planner

ADMIN = "mh_admin_test-token"
MASTER = decode_master_key(new_master_key())


@dataclass
class RunningGateway:
    url: str
    gateway: Gateway
    service: Service

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10.0)


@contextlib.asynccontextmanager
async def running_gateway(
    nats_url: str, database_url: str, *, local_test_mode: bool = True, **overrides: float
) -> AsyncIterator[RunningGateway]:
    settings = GatewaySettings(admin_token=ADMIN, master_key=MASTER, **overrides)  # type: ignore[arg-type]
    port = free_port()
    gateway = Gateway(settings, port=port, allow_private_webhooks=local_test_mode)
    service = Service(ServiceConfig("gateway", nats_url=nats_url, database_url=database_url))
    gateway.build(service)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    started = asyncio.create_task(gateway.started.wait())
    await asyncio.wait([task, started], return_when=asyncio.FIRST_COMPLETED, timeout=20)
    if task.done():
        task.result()  # raise what broke the start
    try:
        yield RunningGateway(f"http://127.0.0.1:{port}", gateway, service)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def running_platform(
    nats_url: str, database_url: str, *, billing: bool = False
) -> AsyncIterator[RunningGateway]:
    """The gateway with an in-process planner (offline model) and actuator, and billing when
    asked: a task submitted through the API runs end to end on real NATS and Chromium.
    The caller sets MH_LOCAL_TEST_MODE (local pages) and MH_DATA_DIR."""
    services = [
        Service(ServiceConfig("planner", nats_url=nats_url, extra={"backend": "in-process"})),
        Service(ServiceConfig("actuator", nats_url=nats_url)),
    ]
    build_planner(services[0])
    build_actuator(services[1])
    if billing:
        services.append(
            Service(ServiceConfig("billing", nats_url=nats_url, database_url=database_url))
        )
        build_billing(services[2])
    halt = asyncio.Event()
    jobs = [asyncio.create_task(s.run(halt)) for s in services]
    try:
        async with running_gateway(nats_url, database_url) as gw:
            yield gw
    finally:
        halt.set()
        await asyncio.gather(*jobs, return_exceptions=True)


TERMINAL = frozenset({"completed", "failed", "cancelled"})


async def task_until(
    c: httpx.AsyncClient, task_id: str, statuses: frozenset[str] | set[str] = TERMINAL
) -> dict[str, Any]:
    """The task's view once its status is one of `statuses` (90 s at most)."""
    for _ in range(900):
        view: dict[str, Any] = (await c.get(f"/v1/tasks/{task_id}")).json()
        if view["status"] in statuses:
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"task {task_id} stayed {view['status']}")


@pytest.fixture
async def gw(nats_url: str, database_url: str) -> AsyncIterator[RunningGateway]:
    async with running_gateway(nats_url, database_url) as g:
        yield g


@dataclass
class Tenant:
    tenant_id: str
    api_key: str
    key_id: str
    webhook_secret: str


async def onboard(
    g: RunningGateway, name: str = "Acme", domains: tuple[str, ...] = ("example.com",)
) -> Tenant:
    async with g.client(ADMIN) as c:
        r = await c.post(
            "/v1/tenants",
            json={
                "name": name,
                "plan": "team",
                "allowed_domains": list(domains),
                "monthly_budget": "100.50",
            },
        )
    assert r.status_code == 201, r.text
    body = r.json()
    return Tenant(body["tenant_id"], body["api_key"], body["key_id"], body["webhook_secret"])


TASK = {
    "goal": "log in and download the invoice",
    "start_url": "https://example.com/login",
    "inputs": {"month": "2026-10"},
    "secrets": {"password": "hunter2-very-secret"},
    "max_steps": 12,
}

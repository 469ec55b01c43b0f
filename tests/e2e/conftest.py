"""The whole platform on one machine for the end-to-end tests, and the back office they use.

Real NATS, PostgreSQL and Chromium: the gateway (HTTP API), the planner (the offline model
in process), the actuator and two scheduler replicas, each a Service as `mh up` runs them.
The schedulers' clock runs sixty times faster than the wall clock (the clock is an argument
of the scheduler), so a schedule "every minute" ticks every second.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from macrohard.actuator.main import build as build_actuator
from macrohard.devkit.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from macrohard.devkit.pages import LocalSite
from macrohard.eventlog import Service, ServiceConfig
from macrohard.planner.main import build as build_planner
from macrohard.scheduler.main import Scheduler
from tests.e2e.shop import Shop
from tests.gateway.conftest import MASTER, RunningGateway, running_gateway

SPEED = 60.0  # scheduler seconds per wall-clock second


def fast_clock() -> Any:
    start_wall, start = time.monotonic(), datetime.now(UTC)

    def now() -> datetime:
        return start + timedelta(seconds=(time.monotonic() - start_wall) * SPEED)

    return now


@dataclass
class Platform:
    gateway: RunningGateway
    data_dir: Path


@pytest.fixture(scope="module")
def e2e_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"), port=free_port())
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
async def e2e_database_url(pg_server: EmbeddedPostgres) -> AsyncIterator[str]:
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    base = pg_server.dsn.rsplit("/", 1)[0]
    admin = await asyncpg.connect(base + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{base}/{name}"
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="module")
async def platform(
    e2e_nats_url: str, e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    nats_url, database_url = e2e_nats_url, e2e_database_url
    data_dir = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MH_LOCAL_TEST_MODE", "1")
        mp.setenv("MH_DATA_DIR", str(data_dir))
        # The actuator opens what the gateway sealed: the same master key.
        mp.setenv("MH_SECRETS_KEY", base64.urlsafe_b64encode(MASTER).decode().rstrip("="))
        planner = Service(
            ServiceConfig("planner", nats_url=nats_url, extra={"backend": "in-process"})
        )
        build_planner(planner)
        actuator = Service(ServiceConfig("actuator", nats_url=nats_url))
        build_actuator(actuator)
        schedulers = []
        for i in range(2):
            s = Service(
                ServiceConfig(f"scheduler-{i}", nats_url=nats_url, database_url=database_url)
            )
            Scheduler(clock=fast_clock(), period_s=0.2).build(s)
            schedulers.append(s)
        halt = asyncio.Event()
        jobs = [asyncio.create_task(s.run(halt)) for s in (planner, actuator, *schedulers)]
        try:
            async with running_gateway(nats_url, database_url) as gw:
                yield Platform(gw, data_dir)
        finally:
            halt.set()
            await asyncio.gather(*jobs, return_exceptions=True)


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[Shop, LocalSite]]:
    state = Shop()
    with LocalSite(state.route) as site:
        yield state, site


async def until(c: httpx.AsyncClient, task_id: str, statuses: set[str]) -> dict[str, Any]:
    """The task's view once its status is one of `statuses` (polls the API: what a client does)."""
    view: dict[str, Any] = {}
    for _ in range(1200):
        view = (await c.get(f"/v1/tasks/{task_id}")).json()
        if view["status"] in statuses:
            return view
        await asyncio.sleep(0.1)
    raise AssertionError(f"task {task_id} stayed {view.get('status')}: {view}")

"""Schedules through the API with two scheduler replicas running as services.

Real gateway, real NATS and PostgreSQL, two scheduler Services (each its own connections,
fold and ticker) on one test clock: a schedule every minute, advanced over three minutes,
has exactly one task per tick, listed as its runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from macrohard.contracts.tasks import TaskSubmitted
from macrohard.eventlog import EventStore, Service, ServiceConfig
from macrohard.scheduler.main import Scheduler
from tests.gateway.conftest import ADMIN, RunningGateway, onboard, running_gateway

SCHEDULE = {
    "name": "orders export",
    "cron": "* * * * *",
    "template": {"goal": "export the orders", "start_url": "https://example.com/orders"},
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(second=30, microsecond=0) + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def schedulers(
    nats_url: str, database_url: str, clock: Clock, replicas: int = 2
) -> AsyncIterator[list[Scheduler]]:
    stop = asyncio.Event()
    running, jobs = [], []
    for i in range(replicas):
        s = Scheduler(clock=clock, period_s=0.02)
        service = Service(ServiceConfig(f"scheduler-{i}", nats_url=nats_url,
                                        database_url=database_url))  # fmt: skip
        s.build(service)
        running.append(s)
        jobs.append(asyncio.create_task(service.run(stop)))
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*jobs), 15)


@pytest.fixture
async def gw(nats_url: str, database_url: str) -> AsyncIterator[RunningGateway]:
    async with running_gateway(nats_url, database_url) as g:
        yield g


async def eventually(check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        assert callable(check)
        if await check():
            return
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_every_minute_one_task_per_tick_with_two_replicas(
    gw: RunningGateway, nats_url: str, database_url: str, store: EventStore
) -> None:
    t = await onboard(gw)
    clock = Clock()
    async with schedulers(nats_url, database_url, clock), gw.client(t.api_key) as c:
        r = await c.post("/v1/schedules", json=SCHEDULE)
        assert r.status_code == 201, r.text
        sid = r.json()["schedule_id"]
        assert r.json()["status"] == "active" and len(r.json()["next_ticks"]) == 3
        # Created "now" by the wall clock; the test clock starts a minute and more ahead.
        for _ in range(3):
            clock.now += timedelta(minutes=1)

            async def ticked(n: int = _ + 1) -> bool:
                runs = (await c.get(f"/v1/schedules/{sid}/runs")).json()["data"]
                return len(runs) == n

            await eventually(ticked)
            await asyncio.sleep(0.2)  # both replicas pass the same minute many more times
        runs = (await c.get(f"/v1/schedules/{sid}/runs")).json()["data"]
        assert len(runs) == 3 and len({r["scheduled_for"] for r in runs}) == 3
        # The log agrees: three TaskSubmitted for this schedule, one per tick, no more.
        head = await store.stream_head()
        submitted = [
            rec.payload
            for seq in range(1, head + 1)
            if isinstance((rec := await store.read_sequence(seq)).payload, TaskSubmitted)
        ]
        mine = [s for s in submitted if s.schedule_id == sid]
        assert len(mine) == 3 and len({s.scheduled_for for s in mine}) == 3
        # Each run is an ordinary task of the tenant.
        task = (await c.get(f"/v1/tasks/{runs[0]['task_id']}")).json()
        assert task["goal"] == "export the orders"

        # Pause: the next minute passes with no run.
        assert (await c.post(f"/v1/schedules/{sid}/pause")).json()["status"] == "paused"
        assert (await c.post(f"/v1/schedules/{sid}/pause")).status_code == 409
        clock.now += timedelta(minutes=1)
        await asyncio.sleep(0.5)
        assert len((await c.get(f"/v1/schedules/{sid}/runs")).json()["data"]) == 3
        # Resume: ticks from the resume on run. The test clock runs minutes ahead of the wall
        # clock that stamps the resume, so the current minute counts as after it: one run.
        assert (await c.post(f"/v1/schedules/{sid}/resume")).json()["status"] == "active"

        async def four() -> bool:
            return len((await c.get(f"/v1/schedules/{sid}/runs")).json()["data"]) == 4

        await eventually(four)
        await asyncio.sleep(0.3)
        assert await four()
        listed = (await c.get("/v1/schedules")).json()["data"]
        assert [s["schedule_id"] for s in listed] == [sid]
        assert (await c.delete(f"/v1/schedules/{sid}")).json()["status"] == "deleted"
        assert (await c.get(f"/v1/schedules/{sid}")).status_code == 404
        # History outlives the schedule.
        assert len((await c.get(f"/v1/schedules/{sid}/runs")).json()["data"]) == 4


async def test_bad_cron_other_tenants_and_plan_limits(gw: RunningGateway) -> None:
    a = await onboard(gw, "A")
    b = await onboard(gw, "B")
    async with gw.client(a.api_key) as ca, gw.client(b.api_key) as cb:
        bad = await ca.post("/v1/schedules", json={**SCHEDULE, "cron": "61 * * * *"})
        assert bad.status_code == 422 and "minute" in bad.json()["detail"]
        assert bad.headers["content-type"].startswith("application/problem+json")
        off = {**SCHEDULE, "template": {"goal": "x", "start_url": "https://evil.test/"}}
        assert (await ca.post("/v1/schedules", json=off)).status_code == 422
        sid = (await ca.post("/v1/schedules", json=SCHEDULE)).json()["schedule_id"]
        url = f"/v1/schedules/{sid}"
        for call in (cb.get(url), cb.post(f"{url}/pause"), cb.delete(url), cb.get(f"{url}/runs")):
            assert (await call).status_code == 404
    # A pay-as-you-go tenant may keep 5 schedules; the 6th is refused and nothing is written.
    async with gw.client(ADMIN) as admin:
        body = (await admin.post("/v1/tenants", json={"name": "Small", "plan": "payg",
                                  "allowed_domains": ["example.com"]})).json()  # fmt: skip
    async with (
        gw.client(body["api_key"]) as c,
        schedulers(
            gw.service.config.nats_url, gw.service.config.database_url or "", Clock(), replicas=1
        ),
    ):
        for _ in range(5):
            assert (await c.post("/v1/schedules", json=SCHEDULE)).status_code == 201

        async def five() -> bool:
            return len((await c.get("/v1/schedules")).json()["data"]) == 5

        await eventually(five)
        refused = await c.post("/v1/schedules", json=SCHEDULE)
        assert refused.status_code == 403 and "payg plan allows 5 schedules" in refused.text

"""Fixtures for the actuator: the local site, one Chromium per module, a running actuator."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from macrohard.actuator.actions import ActionSettings
from macrohard.actuator.browser import BrowserPool
from macrohard.actuator.handlers import Actuator, ActuatorSettings
from macrohard.actuator.main import consumer_spec
from macrohard.actuator.observer import Observer
from macrohard.actuator.screenshots import ScreenshotStore
from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.browser import ActionExecuted, PageObserved
from macrohard.contracts.envelope import Envelope, Event, RecordedEvent
from macrohard.contracts.tasks import SealedSecret, TaskSubmitted, totp_sealed_name
from macrohard.contracts.tenancy import TenantOnboarded
from macrohard.eventlog.service import Service, ServiceConfig
from macrohard.eventlog.store import EventStore
from macrohard.gateway.secrets import open_secret, seal_secret
from tests.actuator.site import Site

TENANT = "acme"


def browser_envelope(event: Event, event_id: str | None = None) -> Envelope:
    """`event` as the browser aggregate's log would hold it (pure decisions' tests); each
    event its own id unless one is given."""
    return Envelope(
        id=event_id or f"{type(event).__name__}-{id(event)}",
        type=type(event).__name__,
        schema_version=1,
        tenant="t",
        aggregate_type="browser",
        aggregate_id="task",
        occurred_at=datetime.now(UTC),
        correlation_id="c",
        payload=event,
    )


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
async def browser_pool() -> AsyncIterator[BrowserPool]:
    """One Chromium for the whole module (starting one costs ~1 s); contexts per task."""
    pool = BrowserPool(local_test_mode=True)
    await pool.start()
    yield pool
    await pool.stop()


class SealingKeys:
    """The gateway's real sealing (macrohard.gateway.secrets) with a test master key."""

    def __init__(self) -> None:
        self.master = hashlib.sha256(b"test master key").digest()

    def seal(self, tenant: str, task_id: str, name: str, value: str) -> SealedSecret:
        return seal_secret(self.master, tenant, task_id, name, value)

    def seal_for(self, *, tenant: str, task_id: str, name: str, value: str) -> SealedSecret:
        """The actuator's sealer (a saved session's browser state) with this master key."""
        return seal_secret(self.master, tenant, task_id, name, value)

    def __call__(self, sealed: SealedSecret, *, tenant: str, task_id: str, name: str) -> str:
        # Exactly what the actuator calls in production, with the master key given here
        # instead of read from MH_SECRETS_KEY.
        return open_secret(sealed, tenant=tenant, task_id=task_id, name=name, master=self.master)


@dataclass
class Running:
    """An actuator consuming the log in this process, and helpers to drive a task."""

    actuator: Actuator
    store: EventStore
    screenshots: ScreenshotStore
    secrets: SealingKeys

    async def onboard(self, domains: list[str], tenant: str = TENANT) -> None:
        event = TenantOnboarded(
            tenant_id=tenant, name=tenant, plan="std", allowed_domains=domains, monthly_budget="1"
        )
        await self.store.append(
            [envelope(event, tenant=tenant, aggregate_id=tenant)], expected_version=None
        )

    async def submit(
        self,
        task_id: str,
        start_url: str,
        secrets: dict[str, str] | None = None,
        totp: dict[str, str] | None = None,
    ) -> None:
        sealed = {n: self.secrets.seal(TENANT, task_id, n, v) for n, v in (secrets or {}).items()}
        seeds = {
            n: self.secrets.seal(TENANT, task_id, totp_sealed_name(n), v)
            for n, v in (totp or {}).items()
        }
        event = TaskSubmitted(
            task_id=task_id, goal="test", start_url=start_url, secrets=sealed, totp_seeds=seeds
        )
        await self.store.append(
            [envelope(event, tenant=TENANT, aggregate_id=task_id)], expected_version=None
        )

    async def intend(self, task_id: str, step: int, intent: Intent) -> str:
        env = envelope(
            IntentEmitted(task_id=task_id, step=step, intent=intent),
            tenant=TENANT,
            aggregate_id=task_id,
        )
        await self.store.append([env], expected_version=None)
        return env.id

    async def result(
        self, task_id: str, intent_id: str, timeout: float = 20.0
    ) -> tuple[ActionExecuted | None, PageObserved]:
        """Wait for the PageObserved of an intent (and its ActionExecuted, if any)."""
        return await wait_result(self.store, task_id, intent_id, timeout)

    async def step(
        self, task_id: str, step: int, intent: Intent
    ) -> tuple[ActionExecuted | None, PageObserved]:
        return await self.result(task_id, await self.intend(task_id, step, intent))


async def wait_result(
    store: EventStore, task_id: str, intent_id: str, timeout: float = 20.0
) -> tuple[ActionExecuted | None, PageObserved]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = await store.read_aggregate(TENANT, "browser", task_id)
        done = [r.payload for r in events if _for(r, intent_id)]
        observed = [e for e in done if isinstance(e, PageObserved)]
        if observed:
            executed = [e for e in done if isinstance(e, ActionExecuted)]
            return (executed[-1] if executed else None), observed[-1]
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no PageObserved for intent {intent_id} of {task_id}")


def _for(rec: RecordedEvent, intent_id: str) -> bool:
    return getattr(rec.payload, "intent_event_id", None) == intent_id


def element(obs: PageObserved, name: str, role: str | None = None) -> int:
    """The id of the element with this accessible name (or text) in an observation."""
    for el in obs.observation.elements:
        if (el.name == name or el.text == name) and (role is None or el.role == role):
            return el.id
    raise AssertionError(f"no element named {name!r} in {obs.observation.elements}")


@asynccontextmanager
async def actuator_running(
    nats_url: str, nc: NATS, pool: BrowserPool, tmp_path: Path, *, step_deadline_s: float = 8.0
) -> AsyncIterator[Running]:
    """An actuator on a real durable consumer in this process, using `pool`'s browser."""
    service = Service(ServiceConfig(name="actuator", nats_url=nats_url))
    screenshots = ScreenshotStore(tmp_path / "screenshots")
    secrets = SealingKeys()
    holder: list[Actuator] = []

    async def handle(rec: RecordedEvent) -> None:
        await holder[0].handle(rec)

    service.consume(consumer_spec(ack_wait_s=10), handle)
    await service.start()
    actuator = Actuator(
        service.store,
        service.nc,
        pool,
        Observer(screenshots),
        ActuatorSettings(
            local_test_mode=pool.local_test_mode,
            step_deadline_s=step_deadline_s,
            action=ActionSettings(timeout_ms=5000, upload_dir=tmp_path / "uploads"),
        ),
        opener=secrets,
        sealer=secrets.seal_for,
    )
    await actuator.start()
    holder.append(actuator)
    try:
        yield Running(actuator, EventStore(nc), screenshots, secrets)
    finally:
        await actuator.stop(stop_browser=False)
        await service.stop()
        await pool.close_all()


@pytest.fixture
async def running(
    nats_url: str, nc: NATS, browser_pool: BrowserPool, tmp_path: Path
) -> AsyncIterator[Running]:
    async with actuator_running(nats_url, nc, browser_pool, tmp_path) as r:
        yield r


MH = str(Path(sys.executable).parent / "mh")


class Replica:
    """One actuator process in its own process group (so kill -9 takes its Chromium too)."""

    def __init__(self, nats_url: str, worker: str, data_dir: Path) -> None:
        env = {
            **os.environ,
            "MH_NATS_URL": nats_url,
            "MH_LOCAL_TEST_MODE": "1",
            "MH_DATA_DIR": str(data_dir),
            "MH_ACTUATOR_WORKER": worker,
            # A dead replica's intent comes back after this many seconds.
            "MH_ACTUATOR_ACK_WAIT_S": "3",
        }
        self.log = (data_dir / f"{worker}.log").open("wb")
        self.proc = subprocess.Popen(
            [MH, "run", "actuator"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def replicas(nats_url: str, tmp_path: Path) -> Iterator[dict[str, Replica]]:
    started: dict[str, Replica] = {}
    yield started
    for replica in started.values():
        if not replica.log.closed:
            replica.stop()

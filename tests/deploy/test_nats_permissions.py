"""deploy/nats: the configuration is valid for nats-server, and its users get exactly the
rights they need — checked on a real nats-server running the shipped services.conf."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS

from macrohard.contracts import envelope
from macrohard.contracts.browser import SessionOpened
from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.identities import inbox_prefix
from macrohard.contracts.tasks import TaskCompleted
from macrohard.devkit.embedded import nats_server_binary
from macrohard.eventlog.consumer import ConsumerSpec
from macrohard.eventlog.index import EventIndexProjection
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.service import Service, ServiceConfig
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams
from tests.deploy.deployed_nats import deployed_nats, example_env

NATS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "nats"


def test_the_cluster_config_is_valid_for_nats_server() -> None:
    env = {**os.environ, **example_env(), "NATS_SERVER_NAME": "nats-1"}
    ok = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(NATS_DIR / "nats.conf")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    del env["MH_NATS_PLANNER_PASSWORD"]
    missing = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(NATS_DIR / "nats.conf")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode != 0 and "MH_NATS_PLANNER_PASSWORD" in missing.stderr + missing.stdout


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """One nats-server with JetStream and the shipped accounts and users."""
    with deployed_nats(tmp_path) as port:
        yield port


def url(port: int, user: str) -> str:
    var = f"MH_NATS_{user.upper().replace('-', '_')}_PASSWORD"
    return f"nats://{user}:{example_env()[var]}@127.0.0.1:{port}"


class Connected:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.clients: list[NATS] = []

    async def as_user(self, port: int, user: str) -> NATS:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        # Every identity but the operator hears replies only under its own inbox prefix.
        prefix = "_INBOX" if user == "admin" else inbox_prefix(user)
        nc = await nats.connect(
            url(port, user), error_cb=on_error, max_reconnect_attempts=0, inbox_prefix=prefix
        )
        self.clients.append(nc)
        return nc

    async def denied(self, what: str) -> bool:
        for _ in range(50):
            if any(
                "permissions violation" in e.lower() and what.lower() in e.lower()
                for e in self.errors
            ):
                return True
            await asyncio.sleep(0.02)
        return False


@pytest.fixture
async def conn(server: int) -> AsyncIterator[Connected]:
    c = Connected()
    admin = await c.as_user(server, "admin")
    await ensure_streams(admin.jetstream())
    yield c
    for nc in c.clients:
        await nc.close()


async def test_a_service_appends_only_its_own_aggregates(server: int, conn: Connected) -> None:
    actuator = EventStore(await conn.as_user(server, "actuator"), timeout=1.0)
    opened = envelope(SessionOpened(task_id="t", worker="w"), tenant="acme", aggregate_id="b-t")
    assert (await actuator.append([opened], expected_version=0)).version == 1
    forged = envelope(TaskCompleted(task_id="t", steps=1), tenant="acme", aggregate_id="t")
    with pytest.raises(nats.errors.TimeoutError):
        await actuator.append([forged], expected_version=0)
    assert await conn.denied("ev.acme.task.t.TaskCompleted"), conn.errors


async def test_a_service_user_can_run_the_kernels_consumers_and_projections(
    server: int, conn: Connected, pool: asyncpg.Pool
) -> None:
    """The common permission set is enough for what every service does at start and run."""
    planner_url = url(server, "planner")
    seen: list[RecordedEvent] = []

    async def handler(rec: RecordedEvent) -> None:
        seen.append(rec)

    # A declared durable of the planner's, fetched on the planner's own inbox prefix (which
    # FastStream passes to nats-py only when told).
    service = Service(ServiceConfig(name="planner", nats_url=planner_url))
    service.consume(ConsumerSpec(durable="planner-pages", subjects=["ev.*.browser.>"]), handler)
    await service.start()
    try:
        actuator = EventStore(await conn.as_user(server, "actuator"))
        opened = envelope(SessionOpened(task_id="t", worker="w"), tenant="acme", aggregate_id="b")
        await actuator.append([opened], expected_version=0)
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.02)
        assert [r.envelope.id for r in seen] == [opened.id]
    finally:
        await service.stop()
    assert not [e for e in conn.errors if "permissions violation" in e.lower()]
    gateway = await conn.as_user(server, "gateway")
    runner = ProjectionRunner(gateway, pool, EventIndexProjection())
    await runner.setup()
    assert await runner.catch_up() == 1
    assert not [e for e in conn.errors if "permissions violation" in e.lower()]

"""The attack suite's shared fixtures: the platform's participants, each with its own rights.

`secure_nats` runs a real nats-server with the shipped accounts and users of
deploy/nats/services.conf (passwords from deploy/.env.example), so every attack here is
tried with exactly the rights a car, a service or the operator has in production; whatever
those files allow, the kernel must still refuse.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from macrohard.actuator.browser import BrowserPool
from macrohard.contracts.identities import inbox_prefix
from macrohard.eventlog.deadletter import DeadLetter, list_dead_letters
from macrohard.eventlog.streams import ensure_streams
from tests.actuator.conftest import Running, actuator_running
from tests.actuator.site import Site
from tests.cli.conftest import mh  # noqa: F401 - `mh` runs the CLI in the replay attack
from tests.deploy.deployed_nats import deployed_nats, example_env
from tests.gateway.conftest import RunningGateway, running_gateway


@dataclass
class Participants:
    """Connections to one secure server as the users deploy/nats declares."""

    port: int
    errors: list[str] = field(default_factory=list)
    clients: list[NATS] = field(default_factory=list)

    def url(self, user: str) -> str:
        password = example_env()[f"MH_NATS_{user.upper().replace('-', '_')}_PASSWORD"]
        return f"nats://{user}:{password}@127.0.0.1:{self.port}"

    async def connect(self, user: str) -> NATS:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc))

        nc = await nats.connect(
            self.url(user),
            error_cb=on_error,
            max_reconnect_attempts=0,
            inbox_prefix=inbox_prefix(user),  # nobody may read the shared _INBOX.>
        )
        self.clients.append(nc)
        return nc

    async def dead_letters(self, consumer: str, *, at_least: int = 1) -> list[DeadLetter]:
        """The dead letters of one consumer, waiting (bounded) until `at_least` are there."""
        admin = await self.connect("admin")
        letters: list[DeadLetter] = []
        for _ in range(250):
            letters = await list_dead_letters(admin, consumer)
            if len(letters) >= at_least:
                break
            await asyncio.sleep(0.02)
        return letters


@pytest.fixture
def secure_nats(tmp_path: Path) -> Iterator[int]:
    """A nats-server with JetStream and deploy/nats/services.conf's users; yields its port."""
    with deployed_nats(tmp_path) as port:
        yield port


@pytest.fixture
async def participants(secure_nats: int) -> AsyncIterator[Participants]:
    p = Participants(secure_nats)
    admin = await p.connect("admin")
    await ensure_streams(admin.jetstream())
    yield p
    for nc in p.clients:
        await nc.close()


@pytest.fixture
async def production_gateway(
    participants: Participants, database_url: str
) -> AsyncIterator[RunningGateway]:
    """The gateway as deployed: its own NATS identity, no local test mode."""
    async with running_gateway(
        participants.url("gateway"), database_url, local_test_mode=False
    ) as gateway:
        yield gateway


# The actuator's step deadline in the attack suite: short, yet roomy on a loaded machine.
DEADLINE_S = 8.0


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    s = Site().start()
    yield s
    s.stop()


@pytest.fixture
async def actuator(participants: Participants, tmp_path: Path) -> AsyncIterator[Running]:
    """An actuator as deployed (its own NATS identity) with its own Chromium."""
    pool = BrowserPool(local_test_mode=True)
    admin = await participants.connect("admin")
    async with actuator_running(
        participants.url("actuator"), admin, pool, tmp_path, step_deadline_s=DEADLINE_S
    ) as running:
        yield running
    await pool.stop()

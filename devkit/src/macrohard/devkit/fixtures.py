"""The pytest plugin of the platform: real NATS and PostgreSQL servers on free ports.

A test suite opts in with `pytest_plugins = ["macrohard.devkit.fixtures"]` in its root conftest.

NATS is started fresh for each test (it takes ~50 ms), so streams never leak between tests.
PostgreSQL starts once per session and each test gets its own database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NATS

from macrohard.devkit.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"), port=free_port())
    server.log_file = server.data_dir / "postgres.log"
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def database_url(pg_server: EmbeddedPostgres) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server.dsn.rsplit("/", 1)[0] + "/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.dsn.rsplit("/", 1)[0] + f"/{name}"
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    yield p
    await p.close()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats", port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_url(nats_server: EmbeddedNats) -> str:
    return nats_server.url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_url)
    await ensure_streams(client.jetstream())
    yield client
    await client.close()


@pytest.fixture
async def store(nc: NATS) -> AsyncIterator[EventStore]:
    s = EventStore(nc)
    yield s
    await s.close()


@pytest.fixture(autouse=True)
def _no_proxy() -> None:
    # Loopback traffic must never be sent to a proxy from the environment.
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"

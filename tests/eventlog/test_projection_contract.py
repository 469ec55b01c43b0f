"""Every registered projection under the one projection contract (see projection_contract.py)."""

from __future__ import annotations

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from macrohard.contracts.envelope import RecordedEvent
from macrohard.devkit.projections import catalogue
from macrohard.eventlog.deadletter import list_dead_letters
from macrohard.eventlog.projection import Projection, ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.eventlog.projection_contract import PoisonedBy, Without, dump, reads, scenario

NAMES = sorted(catalogue())


def test_the_suite_covers_the_platform_s_projections() -> None:
    # A registry that silently lost a service's projection would make this suite vacuous.
    assert {"event_index", "gateway", "billing", "fleet", "scheduler"} <= set(NAMES)


async def _append_log(store: EventStore) -> list[RecordedEvent]:
    for batch in scenario():
        await store.append(batch, expected_version=None)
    return await _read_all(store)


async def _caught_up(nc: NATS, pool: asyncpg.Pool, projection: Projection) -> ProjectionRunner:
    runner = ProjectionRunner(nc, pool, projection)
    await runner.setup()
    await runner.catch_up()
    return runner


async def _read_all(store: EventStore) -> list[RecordedEvent]:
    return [await store.read_sequence(s) for s in range(1, await store.stream_head() + 1)]


@pytest.mark.parametrize("name", NAMES)
async def test_rebuilt_from_the_log_equals_live(
    name: str, nc: NATS, store: EventStore, pool: asyncpg.Pool
) -> None:
    projection = catalogue()[name]
    live = ProjectionRunner(nc, pool, projection, batch_size=3)
    await live.setup()
    for batch in scenario():  # applied as the log grows, a few events at a time
        await store.append(batch, expected_version=None)
        await live.catch_up()
    assert live.lag == 0
    seen_live = await dump(pool)
    assert any(seen_live.values()), f"{name} wrote nothing for a day of work"
    for batch_size in (1, 5000):
        rebuilt = ProjectionRunner(nc, pool, catalogue()[name], batch_size=batch_size)
        await rebuilt.setup()
        await rebuilt.rebuild()
        await rebuilt.catch_up()
        assert await dump(pool) == seen_live, batch_size


@pytest.mark.parametrize("name", NAMES)
async def test_a_redelivered_batch_changes_nothing(
    name: str, nc: NATS, store: EventStore, pool: asyncpg.Pool
) -> None:
    # Batches reach a projection only through its runner, whose checkpoint commits with the
    # rows. A runner holding a stale position (a replica, or a restart, that read the
    # checkpoint before another run moved it) would be delivered the log again from there:
    # it must start from the committed checkpoint and re-apply nothing.
    await _append_log(store)
    stale = ProjectionRunner(nc, pool, catalogue()[name], batch_size=4)
    await stale.setup()
    assert stale.position == 0
    current = await _caught_up(nc, pool, catalogue()[name])
    before = await dump(pool)
    assert await stale.catch_up() == current.position
    assert await dump(pool) == before


@pytest.mark.parametrize("name", NAMES)
async def test_events_outside_its_subjects_change_nothing(
    name: str, nc: NATS, store: EventStore, pool: asyncpg.Pool
) -> None:
    projection = catalogue()[name]
    log = await _append_log(store)
    unrelated = [e for e in log if not reads(projection, e.subject)]
    if not unrelated:
        pytest.skip(f"{name} reads every subject of the log")
    await _caught_up(nc, pool, projection)
    before = await dump(pool)
    async with pool.acquire() as conn, conn.transaction():
        await projection.apply(conn, unrelated)
    assert await dump(pool) == before


@pytest.mark.parametrize("name", NAMES)
async def test_a_poison_event_is_dead_lettered_and_the_rest_applied(
    name: str, nc: NATS, store: EventStore, pool: asyncpg.Pool
) -> None:
    projection: Projection = catalogue()[name]
    log = [e for e in await _append_log(store) if reads(projection, e.subject)]
    poison = log[len(log) // 2]
    poisoned = ProjectionRunner(nc, pool, PoisonedBy(projection, str(poison.envelope.id)))
    await poisoned.setup()
    assert await poisoned.catch_up() == log[-1].sequence  # it moved past the poison
    after_poison = await dump(pool)
    letters = await list_dead_letters(nc, name)
    assert [(d.sequence, d.subject) for d in letters] == [(poison.sequence, poison.subject)]
    # What the read model is when that one event never reached it: everything else applied.
    without = ProjectionRunner(nc, pool, Without(projection, str(poison.envelope.id)))
    await without.setup()
    await without.rebuild()
    await without.catch_up()
    assert await dump(pool) == after_poison

"""Budget caps in real time: the live projection and the signaller on real servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from macrohard.billing.handlers import BudgetSignaller
from macrohard.billing.projection import BillingProjection
from macrohard.contracts.billing import BudgetExhausted, BudgetRestored
from macrohard.contracts.envelope import RecordedEvent
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.billing import builders as b


@pytest.fixture
async def live_billing(nc: NATS, pool: asyncpg.Pool, store: EventStore) -> AsyncIterator[None]:
    """The projection live and the signaller listening, as in the running service."""
    runner = ProjectionRunner(nc, pool, BillingProjection())
    await runner.setup()
    # The clock in the middle of the events' month, or the new-month rollover would lift
    # every cap these tests exhaust.
    signaller = BudgetSignaller(store, pool, clock=lambda: b.at(15))
    jobs = [asyncio.create_task(runner.run()), asyncio.create_task(signaller.run())]
    yield
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)


async def budget_events(store: EventStore, want: int) -> list[RecordedEvent]:
    for _ in range(200):
        events = await store.read_aggregate("acme", "budget", "acme")
        if len(events) >= want:
            return events
        await asyncio.sleep(0.025)
    return await store.read_aggregate("acme", "budget", "acme")


async def test_a_cap_reached_mid_task_emits_budget_exhausted_once(
    store: EventStore, live_billing: None
) -> None:
    # payg compute: 0.0005 per compute-second; each call below costs 0.03; cap 0.05.
    start = b.at(12)
    await b.append_all(store, [b.onboarded("acme", "payg", "0.05"), b.started("acme", "t1", start)])
    first = b.inference("acme", "t1", start, compute_ms=60_000)
    crossing = b.inference("acme", "t1", start + timedelta(seconds=70), compute_ms=60_000)
    await b.append_all(store, [first, b.step("acme", "t1", 1, start), crossing])
    events = await budget_events(store, 1)
    assert len(events) == 1
    exhausted = events[0]
    assert isinstance(exhausted.payload, BudgetExhausted)
    assert (exhausted.payload.spent, exhausted.payload.cap) == ("0.060000", "0.050000")
    assert exhausted.envelope.causation_id == crossing.id
    assert exhausted.envelope.correlation_id == crossing.correlation_id
    # Usage still in flight after the cap: no second event in the same period.
    await b.append_all(store, [b.inference("acme", "t1", start, compute_ms=60_000)])
    await asyncio.sleep(0.3)
    assert len(await store.read_aggregate("acme", "budget", "acme")) == 1
    # The cap is raised: restored, once.
    await b.append_all(store, [b.budget_changed("acme", "1", start + timedelta(minutes=5))])
    events = await budget_events(store, 2)
    assert [type(e.payload) for e in events] == [BudgetExhausted, BudgetRestored]
    assert events[1].payload.cap == "1.000000"  # type: ignore[attr-defined]


async def test_rebuilding_the_projection_does_not_signal_twice(
    nc: NATS, store: EventStore, pool: asyncpg.Pool
) -> None:
    await b.append_all(
        store,
        [b.onboarded("acme", "payg", "0.01"), b.inference("acme", "t", b.at(3), compute_ms=60_000)],
    )
    runner = ProjectionRunner(nc, pool, BillingProjection())
    await runner.setup()
    signaller = BudgetSignaller(store, pool)
    await runner.catch_up()
    assert await signaller.run_once() == 1
    await runner.catch_up()  # sees its own BudgetExhausted: nothing left to signal
    await runner.rebuild()
    await runner.catch_up()
    assert await BudgetSignaller(store, pool).run_once() == 0
    assert len(await store.read_aggregate("acme", "budget", "acme")) == 1


async def test_a_new_month_lifts_a_cap_exhausted_in_the_last_one_once(
    nc: NATS, store: EventStore, pool: asyncpg.Pool
) -> None:
    await b.append_all(
        store,
        [
            b.onboarded("acme", "payg", "0.01"),
            b.inference("acme", "t", b.at(30), compute_ms=60_000),
        ],
    )
    runner = ProjectionRunner(nc, pool, BillingProjection())
    await runner.setup()
    signaller = BudgetSignaller(store, pool)
    await runner.catch_up()
    await signaller.run_once()
    await runner.catch_up()
    assert await signaller.roll_over(b.at(31, hour=23)) == 0  # still October
    assert await signaller.roll_over(b.at(1, month=11)) == 1
    await runner.catch_up()
    assert await signaller.roll_over(b.at(2, month=11)) == 0  # the projection saw it
    events = await store.read_aggregate("acme", "budget", "acme")
    assert [type(e.payload) for e in events] == [BudgetExhausted, BudgetRestored]
    restored = events[1].payload
    assert isinstance(restored, BudgetRestored) and restored.period == "2026-11"
    assert events[1].envelope.causation_id == events[0].id

"""The rating projection against real NATS and PostgreSQL: replay, duplicates, tiers."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from nats.aio.client import Client as NATS

from macrohard.billing.projection import BillingProjection
from macrohard.billing.queries import MeterUsage, usage
from macrohard.contracts import REGISTRY
from macrohard.contracts.subjects import subject_of
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.billing import builders as b
from tests.billing.conftest import table

SNAPSHOT = {
    "tenants": "tenant_id",
    "usage_records": "event_id, meter",
    "meter_totals": "tenant_id, usage_period, meter",
    "node_totals": "tenant_id, usage_period, node_id",
    "budgets": "tenant_id, period",
    "budget_signals": "signal_id",
    "task_runs": "tenant_id, task_id",
}


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[tuple[object, ...]]]:
    return {name: await table(pool, name, order) for name, order in SNAPSHOT.items()}


def workload() -> list[b.Envelope]:
    """Two tenants on different plans, two months, tasks, inference on two cars."""
    evs = [b.onboarded("acme", "payg", "5"), b.onboarded("globex", "team", "0")]
    for month in (10, 11):
        for t, tenant in enumerate(("acme", "globex")):
            for k in range(6):
                task = f"{tenant}-{month}-{k}"
                start = b.at(3 + k, month, hour=8 + t)
                evs.append(b.started(tenant, task, start))
                for n in range(4):
                    when = start + timedelta(seconds=20 * n)
                    evs += [
                        b.step(tenant, task, n, when),
                        b.action(tenant, task, n, when),
                        b.observed(tenant, task, n, when, screenshot=n % 2 == 0),
                        b.inference(
                            tenant, task, when, compute_ms=1234.5678 * (n + 1),
                            energy_wh=0.0123, node=f"car-{k % 2}", owner=f"owner-{k % 2}",
                        ),
                    ]  # fmt: skip
                evs.append(b.completed(tenant, task, start + timedelta(minutes=3, seconds=7)))
    return evs


async def test_the_whole_log_gives_every_total(
    nc: NATS, store: EventStore, pool: asyncpg.Pool
) -> None:
    evs = workload()
    await b.append_all(store, evs)
    small = ProjectionRunner(nc, pool, BillingProjection(), batch_size=7)
    await small.setup()
    await small.catch_up()
    before = await snapshot(pool)
    # 24 tasks: 4 steps, 4 actions, 2 screenshots, 4 x (compute + energy), 1 task time.
    assert len(before["usage_records"]) == 24 * (4 + 4 + 2 + 8 + 1)
    # A task-minute is metered from its start to its end: 3 min 7 s.
    async with pool.acquire() as conn:
        minutes = await conn.fetch(
            "SELECT DISTINCT quantity FROM billing.usage_records WHERE meter = 'task_ms'"
        )
    assert [r[0] for r in minutes] == [187_000]
    # Rebuilt from the log == live: the projection contract suite (tests/eventlog).


async def test_duplicate_deliveries_are_counted_once(
    nc: NATS, store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    env = b.action("acme", "t1", 1, b.at(5))
    await store.append([env], expected_version=None)
    await store.append([env], expected_version=None)  # retried append: de-duplicated by NATS
    # The same event published again without its de-dup id (as after the duplicate window):
    # the log now holds it twice, at two sequences.
    await nc.jetstream().publish(subject_of(env), REGISTRY.encode(env))
    await store.append([b.action("acme", "t1", 2, b.at(5))], expected_version=None)
    assert await store.stream_head() == 3
    await runner.catch_up()
    async with pool.acquire() as conn:
        assert await usage(conn, "acme") == [
            MeterUsage(period="2026-10", meter="actions", quantity=2, unit="action",
                       amount="0.000000")
        ]  # fmt: skip
        assert await conn.fetchval("SELECT count(*) FROM billing.usage_records") == 2
    # Redelivery across batches too: the duplicate alone in a later batch.
    await nc.jetstream().publish(subject_of(env), REGISTRY.encode(env))
    await runner.catch_up()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM billing.usage_records") == 2


async def test_graduated_tiers_are_priced_right(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    # team plan, actions: 5,000 free; then per 1k: 1.50 up to 100k, 1.00 up to 1M, 0.60 after.
    await b.append_all(
        store,
        [
            b.onboarded("acme", "team"),
            b.recorded("acme", "actions", 5_000, b.at(2)),  # all free
            b.recorded("acme", "actions", 100_000, b.at(3)),  # 100k in tier 1: 150.00
            b.recorded("acme", "actions", 950_500, b.at(4)),  # 900k tier 2 + 50.5k tier 3
            b.inference("acme", "t", b.at(5), compute_ms=1234.5678),  # 1,234,568 us: free
        ],
    )
    await runner.catch_up()
    async with pool.acquire() as conn:
        amounts = await conn.fetch(
            """SELECT amount_micros FROM billing.usage_records WHERE meter = 'actions'
               ORDER BY seq"""
        )
        totals = {u.meter: (u.quantity, u.amount) for u in await usage(conn, "acme")}
    assert [r[0] for r in amounts] == [0, 150_000_000, 900_000_000 + 30_300_000]
    assert totals == {
        "actions": (1_055_500, "1080.300000"),
        "compute:planner-small": (1_234_568, "0.000000"),
    }

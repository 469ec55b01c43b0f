"""Car-owner payouts and fleet economics on real servers: payouts + margin == revenue."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from macrohard.billing.handlers import Invoicer
from macrohard.billing.money import parse_money
from macrohard.billing.queries import Economics, economics, invoices, payout_statements
from macrohard.contracts.billing import PayoutStated
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.billing import builders as b


def revenue_of(rows: list[Economics]) -> int:
    return sum(parse_money(r.revenue) for r in rows)


async def test_payouts_plus_margin_equal_revenue(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    evs = [b.onboarded("acme", "payg"), b.onboarded("globex", "team")]
    for i in range(40):
        tenant = ("acme", "globex")[i % 2]
        when = b.at(1 + i % 28, hour=i % 24)
        evs += [
            b.inference(tenant, f"t{i}", when, compute_ms=90_000.5 + i * 1000.25,
                        energy_wh=0.75 + i / 7, node=f"car-{i % 3}", owner=f"owner-{i % 3 % 2}",
                        model=("planner", "minilm")[i % 4 // 3]),
            b.step(tenant, f"t{i}", 1, when),
            b.action(tenant, f"t{i}", 1, when),
        ]  # fmt: skip
    await b.append_all(store, evs)
    await runner.catch_up()
    # Invoices are final after the grace (3 days), statements after the holding period.
    await Invoicer(store, pool).run_once(datetime(2026, 11, 15, tzinfo=UTC))
    await runner.catch_up()
    async with pool.acquire() as conn:
        by_tenant = await economics(conn, "2026-10", by="tenant")
        by_node = await economics(conn, "2026-10", by="node")
        by_model = await economics(conn, "2026-10", by="model")
        invoiced = [i for t in ("acme", "globex") for i in await invoices(conn, t)]
        statements = [s for o in ("owner-0", "owner-1") for s in await payout_statements(conn, o)]
    for row in by_tenant + by_node + by_model:
        assert parse_money(row.payouts) + parse_money(row.margin) == parse_money(row.revenue)
    # Every car's and every model's work earns the platform a margin ("": steps and actions
    # here fall within the plans' free quantities).
    assert all(parse_money(r.margin) > 0 for r in by_node + by_model if r.key)
    assert [m.key for m in by_model] == ["", "energy_uwh", "minilm", "planner"]
    assert revenue_of(by_model) == revenue_of(by_node)
    revenue = sum(parse_money(r.revenue) for r in by_tenant)
    payouts = sum(parse_money(r.payouts) for r in by_tenant)
    assert revenue == sum(parse_money(r.revenue) for r in by_node)
    assert payouts == sum(parse_money(r.payouts) for r in by_node)
    # Revenue is what the tenants were invoiced; payouts are what the owners were stated.
    assert [i.status for i in invoiced] == ["final", "final"]
    assert revenue == sum(parse_money(i.total) for i in invoiced) > 0
    assert payouts == sum(parse_money(s.total) for s in statements) > 0
    assert [n.key for n in by_node] == ["", "car-0", "car-1", "car-2"]  # "": steps, actions
    assert by_node[0].payouts == "0.000000"
    stated = await store.read_aggregate("_platform", "payout", "owner-0-2026-10")
    assert len(stated) == 1 and isinstance(stated[0].payload, PayoutStated)
    assert [line.node_id for line in stated[0].payload.lines] == ["car-0", "car-2"]


async def test_compute_served_after_a_statement_is_paid_on_the_next_one(
    store: EventStore, pool: asyncpg.Pool, runner: ProjectionRunner
) -> None:
    await b.append_all(store, [b.inference("acme", "t1", b.at(9), compute_ms=60_000)])
    await runner.catch_up()
    await Invoicer(store, pool).run_once(datetime(2026, 11, 5, tzinfo=UTC))
    await runner.catch_up()
    async with pool.acquire() as conn:  # October's answers are still held: no statement yet
        assert await payout_statements(conn, "owner-1") == []
    await Invoicer(store, pool).run_once(datetime(2026, 11, 15, tzinfo=UTC))
    # Logged after October's statement, served in October.
    await b.append_all(store, [b.inference("acme", "t2", b.at(31), compute_ms=30_000)])
    await runner.catch_up()
    await Invoicer(store, pool).run_once(datetime(2026, 12, 15, tzinfo=UTC))
    await runner.catch_up()
    async with pool.acquire() as conn:
        statements = await payout_statements(conn, "owner-1")
    # 60 compute-seconds at 0.0002 = 0.012, then 30 more = 0.006 on November's statement.
    assert [(s.period, s.total) for s in statements] == [
        ("2026-10", "0.012000"),
        ("2026-11", "0.006000"),
    ]
    november = await store.read_aggregate("_platform", "payout", "owner-1-2026-11")
    [line] = november[0].payload.lines  # type: ignore[attr-defined]
    assert (line.node_id, line.usage_period, line.compute_ms) == ("car-1", "2026-10", "30000.000")

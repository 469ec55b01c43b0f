"""The pure rating step: batching never changes a total; periods and invoice assignment."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from macrohard.billing.domain import billed_period, next_period, period_end, period_of, task_ms
from macrohard.billing.rating import Ledger
from macrohard.contracts.envelope import Envelope, RecordedEvent
from tests.billing import builders as b


def recorded_events(envs: list[Envelope]) -> list[RecordedEvent]:
    return [RecordedEvent(sequence=i + 1, subject="", envelope=e) for i, e in enumerate(envs)]


def carry(previous: Ledger) -> Ledger:
    """A fresh ledger for the next batch, starting from what the last one left (as the
    projection does through PostgreSQL)."""
    return Ledger(
        tenants=copy.deepcopy(previous.tenants),
        meter_totals=copy.deepcopy(previous.meter_totals),
        node_totals=copy.deepcopy(previous.node_totals),
        budgets=copy.deepcopy(previous.budgets),
        tasks=copy.deepcopy(previous.tasks),
        seen=set(previous.seen),
    )


def pool_of_events() -> list[Envelope]:
    t0 = b.at(30, hour=23, minute=58)
    evs = [b.onboarded("acme", "team", "0.02"), b.started("acme", "t1", t0)]
    for i in range(6):
        when = t0 + timedelta(minutes=i)  # crosses into November
        evs += [
            b.step("acme", "t1", i, when),
            b.inference("acme", "t1", when, compute_ms=333_333.3 * (i + 1), energy_wh=0.4,
                        node=f"car-{i % 2}", owner="o"),
            b.budget_changed("acme", "0.5", when) if i == 3 else b.action("acme", "t1", i, when),
        ]  # fmt: skip
    evs.append(b.completed("acme", "t1", t0 + timedelta(minutes=7)))
    return evs


EVENTS = pool_of_events()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(EVENTS))), min_size=1, max_size=40),
    st.lists(st.integers(1, 8), min_size=1, max_size=40),
)
def test_any_batching_gives_the_same_records_totals_and_signals(
    picks: list[int], cuts: list[int]
) -> None:
    # Picks repeat events: a duplicate in the log must be counted once however it is batched.
    log = recorded_events([EVENTS[i] for i in sorted(picks)])
    whole = Ledger()
    for rec in log:
        whole.apply(rec)
    records, signals = [], []
    ledger = Ledger()
    start = 0
    for cut in cuts * 40:
        if start >= len(log):
            break
        ledger = carry(ledger)
        for rec in log[start : start + cut]:
            ledger.apply(rec)
        records += ledger.records
        signals += ledger.signals
        start += cut
    assert records == whole.records
    assert signals == whole.signals
    assert ledger.meter_totals == whole.meter_totals
    assert ledger.budgets == whole.budgets
    assert len({(r[0], r[1]) for r in records}) == len(records)  # one record per event+meter
    # Every amount of a period sums to the total the period's charge is built on.
    for (tenant, period, meter), (qty, amount) in whole.meter_totals.items():
        mine = [r for r in records if (r[3], r[4], r[1]) == (tenant, period, meter)]
        assert sum(r[6] for r in mine) == qty and sum(r[7] for r in mine) == amount  # type: ignore[misc]


def test_periods_are_utc_months() -> None:
    assert period_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == "2026-12"
    assert period_of(datetime(2027, 1, 1, 0, 30, tzinfo=UTC)) == "2027-01"
    assert next_period("2026-12") == "2027-01"
    assert period_end("2026-02") == datetime(2026, 3, 1, tzinfo=UTC)
    assert task_ms(b.at(1), b.at(1) + timedelta(hours=25, microseconds=1500)) == 90_000_001
    assert task_ms(b.at(2), b.at(1)) == 0


def test_usage_lands_on_its_own_invoice_until_that_is_final() -> None:
    assert billed_period("2026-10", None) == "2026-10"
    assert billed_period("2026-10", "2026-09") == "2026-10"
    assert billed_period("2026-10", "2026-10") == "2026-11"
    assert billed_period("2026-08", "2026-10") == "2026-11"


def test_a_tenant_filed_under_the_platform_token_gets_its_plan_and_cap() -> None:
    from macrohard.contracts import envelope
    from macrohard.contracts.tenancy import TenantOnboarded

    onboarded = envelope(
        TenantOnboarded(tenant_id="acme", name="A", plan="team", allowed_domains=[],
                        monthly_budget="2.5"),
        tenant="_platform", aggregate_id="acme",
    )  # fmt: skip
    ledger = Ledger()
    for rec in recorded_events([onboarded, b.recorded("acme", "actions", 5_000, b.at(3))]):
        ledger.apply(rec)
    assert ledger.tenants["acme"].plan == "team" and ledger.tenants["acme"].cap == 2_500_000
    assert ledger.meter_totals[("acme", "2026-10", "actions")] == [5_000, 0]  # team: 5k free

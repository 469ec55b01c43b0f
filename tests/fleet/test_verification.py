"""Verified inference end to end (issue 16.1): three real cars (node agents with their own
PyTriton) serve the planner model; one of them is dishonest, its model deliberately wrong.
The planner runs a task through the real inference client and registry: the dishonest car's
answer is caught by a second car, a third decides, the car is quarantined and gets no more
leases, the task still completes, and billing (its real projection) charges the tenant and
pays owners only for answers that held."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

import asyncpg
import numpy as np
import pytest
from nats.aio.client import Client as NATS

from macrohard.billing.projection import BillingProjection
from macrohard.billing.public import invoice, period_of
from macrohard.billing.withholding import Withholder
from macrohard.contracts import PLATFORM_TENANT, envelope
from macrohard.contracts.agent import (
    InferenceCompleted,
    InferenceDisputed,
    InferenceRetracted,
    InferenceVerified,
    Intent,
    IntentEmitted,
)
from macrohard.contracts.envelope import utcnow
from macrohard.contracts.tasks import TaskCompleted, TaskFailed
from macrohard.contracts.tenancy import TenantOnboarded
from macrohard.eventlog import EventStore
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.node_agent.triton import TritonHost
from macrohard.node_registry.registry import Registry
from macrohard.node_registry.reputation import MAX_UNCHECKED, Reputation
from macrohard.planner.backends import TritonBackend
from macrohard.planner.inference import InferenceClient
from macrohard.planner_model import Array, InferFn, load_bindings
from tests.fleet.conftest import eventually, run_registry, running_car
from tests.planner.test_service import observe, submit, task_events

LIAR = "car-0"  # sorts first: placement's tie-break hands it the first lease
HONEST = ("car-1", "car-2")


def lying_load() -> InferFn:
    """The planner model, deliberately wrong: every answer gives the task up."""
    wrong = b'{"action":"fail","reason":"I was paid to say this"}'

    def infer(inputs: Mapping[str, Array]) -> dict[str, Array]:
        rows = len(next(iter(inputs.values())))
        return {"intent": np.array([[wrong]] * rows, dtype=np.object_)}

    return infer


@pytest.fixture(scope="module")
def tritons() -> Iterator[dict[str, TritonHost]]:
    (honest,) = load_bindings(["macrohard.planner_model.planner"])
    hosts = {car: TritonHost([honest]) for car in HONEST}
    hosts[LIAR] = TritonHost([dataclasses.replace(honest, load=lying_load)])
    try:
        for host in hosts.values():
            host.start()
        yield hosts
    finally:
        for host in hosts.values():
            host.stop()


async def test_a_dishonest_car_is_caught_quarantined_and_never_paid(
    nc: NATS, store: EventStore, pool: asyncpg.Pool, tritons: dict[str, TritonHost]
) -> None:
    onboarded = TenantOnboarded(
        tenant_id="acme", name="Acme", plan="team", allowed_domains=[], monthly_budget="100"
    )
    await store.append(
        [envelope(onboarded, tenant="acme", aggregate_id="acme")], expected_version=None
    )
    async with run_registry(nc) as registry:
        cars = [
            running_car(
                nc, car, models=["planner"], url=tritons[car].http_url, meter=tritons[car].meter
            )
            for car in (LIAR, *HONEST)
        ]
        async with cars[0], cars[1], cars[2]:
            await eventually(lambda: len(registry.fleet.nodes) == 3)
            events = await run_task(nc, store, registry)

    # The liar answered first and was outvoted by the two honest cars.
    (dispute,) = [e for e in events if isinstance(e, InferenceDisputed)]
    assert dispute.step == 1 and dispute.node_ids[0] == LIAR
    assert dispute.wrong == [LIAR] and sorted(dispute.majority) == list(HONEST)
    assert dispute.digests[LIAR] != dispute.digests[HONEST[0]]
    # Its answer never reached the actuator: every intent is an honest one, and the task
    # completed.
    assert isinstance(events[-1], TaskCompleted), events[-1]
    assert not any(isinstance(e, TaskFailed) for e in events)
    # Quarantined by the registry, its leases revoked; no car but the honest ones worked later.
    node = await store.read_aggregate(PLATFORM_TENANT, "node", LIAR)
    assert [e.type for e in node if e.type == "NodeQuarantined"] == ["NodeQuarantined"]
    assert registry.fleet.nodes[LIAR].quarantined
    completed = [e for e in events if isinstance(e, InferenceCompleted)]
    assert completed and LIAR not in {e.node_id for e in completed}
    # Honest answers were checked too (every car's first calls are) and agreed.
    assert any(isinstance(e, InferenceVerified) for e in events)
    answers = [e for e in completed if not e.verification]
    assert len({e.step for e in answers}) == len(answers)  # one used answer per step

    # Billing, from the log: the tenant is charged for exactly the answers used, never for
    # the checks (the platform's cost); the checking cars' owners are paid for them; the
    # liar is neither billed for nor paid.
    runner = ProjectionRunner(nc, pool, BillingProjection(), batch_size=500)
    await runner.setup()
    await runner.catch_up()
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT meter, node_id, sum(quantity) AS q, sum(amount_micros) AS charged,
                      sum(payout_micros) AS paid
               FROM billing.usage_records WHERE meter LIKE '%compute:planner'
               GROUP BY meter, node_id"""
        )
        checks_of = dict(
            await conn.fetch(
                """SELECT checks, count(*) FROM billing.usage_records
                   WHERE meter = 'verification:compute:planner' GROUP BY checks"""
            )
        )
        live = await invoice(conn, "acme", period_of(utcnow()))
    # The tenant's invoice shows the answers' compute, no verification line.
    assert live is not None and any(line.meter == "compute:planner" for line in live.lines)
    assert not any(line.meter.startswith("verification:") for line in live.lines)
    billed = {r["node_id"]: (r["q"], r["charged"], r["paid"]) for r in rows
              if r["meter"] == "compute:planner"}  # fmt: skip
    checked = {r["node_id"]: (r["q"], r["charged"], r["paid"]) for r in rows
               if r["meter"] == "verification:compute:planner"}  # fmt: skip
    assert LIAR not in billed and LIAR not in checked
    expected: dict[str, int] = {}
    for e in answers:
        expected[e.node_id] = expected.get(e.node_id, 0) + round(e.compute_ms * 1000)
    assert {n: q for n, (q, _, _) in billed.items()} == expected
    checks = [e for e in completed if e.verification]
    assert checks and all(e.checks for e in checks)
    expected = {}
    for e in checks:
        expected[e.node_id] = expected.get(e.node_id, 0) + round(e.compute_ms * 1000)
    assert {n: q for n, (q, _, _) in checked.items()} == expected
    assert all(charged == 0 and paid > 0 for _, charged, paid in checked.values())
    assert sum(checks_of.values()) == len(checks)


async def test_a_trusted_cars_unchecked_lie_is_traced_and_credited_once_it_is_caught(
    nc: NATS, store: EventStore, pool: asyncpg.Pool, tritons: dict[str, TritonHost]
) -> None:
    """Issue 16.1/16.3: a car with a long clean record is checked on few calls, so a lie can
    reach the task unchecked (here: it fails the task). When the car is later caught, the
    answer is traced in that task's log to the intent it produced, the tenant is credited
    for it and the owner not paid for it."""
    onboarded = TenantOnboarded(
        tenant_id="acme", name="Acme", plan="team", allowed_domains=[], monthly_budget="100"
    )
    await store.append(
        [envelope(onboarded, tenant="acme", aggregate_id="acme")], expected_version=None
    )
    async with run_registry(nc) as registry:
        cars = [
            running_car(
                nc, car, models=["planner"], url=tritons[car].http_url, meter=tritons[car].meter
            )
            for car in (LIAR, *HONEST)
        ]
        async with cars[0], cars[1], cars[2]:
            await eventually(lambda: len(registry.fleet.nodes) == 3)
            # Established cars: thousands of agreeing checks behind each (share ~0.1%).
            for car in (LIAR, *HONEST):
                registry.reputation[car] = Reputation(calls=10_000, verified=10_000)
            first = await run_task(nc, store, registry, task_id="t-lied")
            # The lie was not checked: it reached the task (the liar says "fail").
            assert not any(isinstance(e, InferenceDisputed | InferenceVerified) for e in first)
            assert isinstance(first[-1], TaskFailed), first[-1]
            # Later: the liar's unchecked volume has run out, so its next call is checked
            # (placement still prefers it: the honest cars have lost half their leases).
            for car in HONEST:
                registry.rep(car).leases, registry.rep(car).leases_lost = 100, 50
            for n in range(3):
                registry.rep(LIAR).unchecked = MAX_UNCHECKED
                await run_task(nc, store, registry, task_id=f"t-later-{n}")
                if registry.fleet.nodes[LIAR].quarantined:
                    break
            assert registry.fleet.nodes[LIAR].quarantined
    [quarantine] = [r for r in await store.read_aggregate(PLATFORM_TENANT, "node", LIAR)
                    if r.type == "NodeQuarantined"]  # fmt: skip

    runner = ProjectionRunner(nc, pool, BillingProjection(), batch_size=500)
    await runner.setup()
    await runner.catch_up()
    assert await Withholder(store, pool).run_once() >= 2
    await runner.catch_up()

    records = await store.read_aggregate("acme", "task", "t-lied")
    [answer] = [r for r in records if isinstance(r.payload, InferenceCompleted)]
    [intent] = [r for r in records if isinstance(r.payload, IntentEmitted)
                and r.payload.step == answer.payload.step]  # type: ignore[attr-defined]  # fmt: skip
    [traced] = [r.payload for r in records if isinstance(r.payload, InferenceRetracted)]
    assert answer.payload.node_id == LIAR  # type: ignore[attr-defined]
    assert intent.payload.intent.action == "fail"  # type: ignore[attr-defined]
    assert (traced.inference_event_id, traced.intent_event_id) == (answer.envelope.id,
                                                                   intent.envelope.id)  # fmt: skip
    assert (traced.step, traced.node_id, traced.quarantine_event_id) == (
        answer.payload.step, LIAR, quarantine.envelope.id,  # type: ignore[attr-defined]
    )  # fmt: skip
    async with pool.acquire() as conn:
        live = await invoice(conn, "acme", period_of(utcnow()))
        liar = await conn.fetchrow(
            """SELECT sum(amount_micros) AS charged, sum(payout_micros) AS paid
               FROM billing.usage_records WHERE node_id = $1""",
            LIAR,
        )
    assert live is not None
    [credit] = [line for line in live.lines if line.meter == "credit"]
    assert credit.quantity >= 1 and credit.amount.startswith("-")
    # Every answer of the liar that was not checked is credited and unpaid: net, the tenant
    # pays nothing and the owner earns nothing for its unchecked answers.
    assert liar is not None and liar["charged"] == 0 and liar["paid"] == 0


async def run_task(
    nc: NATS, store: EventStore, registry: Registry, task_id: str = "t1"
) -> list[object]:
    """The planner decides each step on the fleet; pages are observed until it completes."""
    from macrohard.planner.handlers import Planner

    client = InferenceClient(nc, store)
    backend = TritonBackend(client)
    planner = Planner(store=lambda: store, backend=lambda: backend)
    await submit(store, planner, task_id=task_id)
    try:
        for step in range(8):
            await observe(store, planner, step, task_id=task_id)
            events = await task_events(store, task_id)
            if isinstance(events[-1], TaskCompleted | TaskFailed):
                break
    finally:
        await client.close()
    return list(await task_events(store, task_id))


def _intent(e: object) -> Intent | None:
    return getattr(e, "intent", None)

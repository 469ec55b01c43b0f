"""Point 1: the subject is the truth. A participant publishing on a subject its NATS rights
allow, with an envelope or payload that claims something else, is refused by the kernel
before any handler or projection sees it, and dead-lettered with the reason."""

from __future__ import annotations

import asyncio

import asyncpg
from nats.aio.client import Client as NATS

from macrohard.billing import queries
from macrohard.billing.projection import BillingProjection
from macrohard.contracts import PLATFORM_TENANT, REGISTRY, envelope, subject_of
from macrohard.contracts.browser import PageObservation, PageObserved
from macrohard.contracts.envelope import Envelope, RecordedEvent
from macrohard.contracts.fleet import NodeRegistered
from macrohard.eventlog.consumer import ConsumerSpec
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.service import Service, ServiceConfig
from macrohard.eventlog.store import EventStore
from macrohard.node_registry.handlers import follow_log
from macrohard.node_registry.registry import Registry
from tests.billing.builders import at, inference, onboarded
from tests.security.conftest import Participants

CAR_1_SUBJECT = f"ev.{PLATFORM_TENANT}.node.car-1.NodeRegistered"


async def publish_raw(nc: NATS, subject: str, env: Envelope) -> None:
    """What a hostile client does: any body, on a subject its permissions allow."""
    await nc.publish(subject, REGISTRY.encode(env), headers={"Nats-Msg-Id": env.id})
    await nc.flush()


async def stored(admin: EventStore, count: int) -> None:
    for _ in range(250):
        if await admin.stream_head() >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the log never reached {count} events")


def registered(node: str, owner: str) -> NodeRegistered:
    return NodeRegistered(
        node_id=node, owner_account=owner, chip="orin", tops=200.0, memory_gb=32.0,
        power_w=40.0, models=["minilm"], triton_http_url="",
    )  # fmt: skip


async def test_a_forged_cross_tenant_inference_from_a_car_bills_nothing(
    participants: Participants, pool: asyncpg.Pool
) -> None:
    admin = EventStore(await participants.connect("admin"))
    for tenant in ("acme", "beta"):
        await admin.append([onboarded(tenant)], expected_version=None)
    car = await participants.connect("car-1")
    # Car-1 bills acme (and pays its own owner) from its own, permitted, subject.
    forged = inference("acme", "t1", at(2), compute_ms=9e9, node="car-1", owner="car-1-owner")
    await publish_raw(car, CAR_1_SUBJECT, forged)
    await stored(admin, 3)
    planner = EventStore(await participants.connect("planner"))
    await planner.append([inference("beta", "t2", at(2), compute_ms=100.0)], expected_version=0)

    runner = ProjectionRunner(await participants.connect("billing"), pool, BillingProjection())
    await runner.setup()
    assert await runner.catch_up() == 4
    async with pool.acquire() as conn:
        assert await queries.usage(conn, "acme") == []
        assert await queries.usage(conn, "beta") != []  # the projection did run past it
        assert await queries.payout_statements(conn, "car-1-owner") == []
        owners = await conn.fetchval(
            "SELECT count(*) FROM billing.node_totals WHERE owner_account = 'car-1-owner'"
        )
    assert owners == 0
    [letter] = await participants.dead_letters("billing")
    assert letter.subject == CAR_1_SUBJECT and letter.sequence == 3
    assert "ProvenanceError" in letter.error and "tenant 'acme'" in letter.error


async def test_a_car_cannot_register_another_car_on_its_own_subject(
    participants: Participants,
) -> None:
    """Envelope and subject agree (car-1's NodeRegistered), the payload names car-2."""
    honest = envelope(registered("car-2", "owner-2"), tenant=PLATFORM_TENANT, aggregate_id="car-2")
    await EventStore(await participants.connect("car-2")).append([honest], expected_version=0)
    car = await participants.connect("car-1")
    takeover = envelope(registered("car-2", "thief"), tenant=PLATFORM_TENANT, aggregate_id="car-1")
    assert subject_of(takeover) == CAR_1_SUBJECT
    await publish_raw(car, CAR_1_SUBJECT, takeover)  # car-2's payouts would go to "thief"
    await stored(EventStore(await participants.connect("admin")), 2)

    registry_nc = await participants.connect("node-registry")
    registry = Registry(EventStore(registry_nc))
    ready = asyncio.Event()
    sub = await follow_log(registry_nc, registry, ready)
    try:
        await asyncio.wait_for(ready.wait(), 5.0)
    finally:
        await sub.unsubscribe()
    assert set(registry.fleet.nodes) == {"car-2"}
    assert registry.fleet.nodes["car-2"].owner_account == "owner-2"


async def test_a_durable_consumer_dead_letters_a_forged_envelope_at_once(
    participants: Participants,
) -> None:
    """The actuator may append acme's browser events; one whose envelope claims beta's
    task never reaches the planner's handler, and is dead-lettered on its first delivery
    (no retry can fix it), while the consumer moves on to the next event."""
    seen: list[RecordedEvent] = []

    async def handler(rec: RecordedEvent) -> None:
        seen.append(rec)

    service = Service(ServiceConfig(name="planner", nats_url=participants.url("planner")))
    spec = ConsumerSpec(durable="planner-pages", subjects=["ev.*.browser.*.PageObserved"])
    service.consume(spec, handler)
    await service.start()
    try:
        actuator = await participants.connect("actuator")
        page = PageObservation(url="https://example.com/", title="t", elements=[])
        forged = envelope(
            PageObserved(task_id="t1", step=1, observation=page), tenant="beta", aggregate_id="t1"
        )
        await publish_raw(actuator, "ev.acme.browser.t1.PageObserved", forged)
        real = envelope(
            PageObserved(task_id="t2", step=1, observation=page), tenant="acme", aggregate_id="t2"
        )
        await EventStore(actuator).append([real], expected_version=0)
        [letter] = await participants.dead_letters("planner-pages")
        for _ in range(250):
            if seen:
                break
            await asyncio.sleep(0.02)
    finally:
        await service.stop()
    assert [r.envelope.id for r in seen] == [real.id]
    assert letter.deliveries == 1 and "ProvenanceError" in letter.error
    assert "tenant 'beta' in the envelope, 'acme' on the subject" in letter.error

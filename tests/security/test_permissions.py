"""Attacks on the bus, tried with each participant's own credentials (issue 11, point 2).

A real nats-server runs the accounts rendered from `macrohard.contracts.identities` with
literal passwords, exactly as `mh up --secure` starts it (`NatsCluster`); every attack is
made through the identity URLs it writes. A car is a stranger's machine: it must not read
anyone's deliveries, speak for another car or a tenant, or read the log. A service must not
read another service's replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import msgspec
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from macrohard.contracts import PLATFORM_TENANT, envelope, subject_of
from macrohard.contracts.agent import InferenceCompleted
from macrohard.contracts.billing import BudgetExhausted
from macrohard.contracts.browser import SessionOpened
from macrohard.contracts.envelope import Envelope
from macrohard.contracts.fleet import NodeLost, NodeParked, NodeRegistered
from macrohard.contracts.identities import SERVICES, inbox_prefix
from macrohard.contracts.nats_config import ADMIN_USER
from macrohard.contracts.tasks import TaskCompleted, TaskSubmitted
from macrohard.devkit.cluster import NatsCluster
from macrohard.devkit.embedded import free_port
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams

CARS = ["car-1", "car-2"]
TENANT = "acme"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """One secured nats-server (the `mh up --secure` code path, one node)."""
    server = NatsCluster(
        tmp_path_factory.mktemp("secure"), CARS, size=1, ports=[free_port()]
    ).start()
    yield server
    server.stop()


class Participant:
    """One identity's connection, with the server's refusals collected."""

    def __init__(self, name: str, nc: NATS, errors: list[str]) -> None:
        self.name = name
        self.nc = nc
        self.errors = errors

    async def refused(self, what: str) -> bool:
        """True once the server has said `permissions violation` about `what`."""
        for _ in range(100):
            if any("permissions violation" in e and what.lower() in e for e in self.errors):
                return True
            await asyncio.sleep(0.01)
        return False


class Participants:
    def __init__(self, cluster: NatsCluster) -> None:
        self.cluster = cluster
        self.opened: list[NATS] = []

    async def __call__(self, name: str) -> Participant:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc).lower())

        url = (self.cluster.data_dir / "identities" / f"{name}.url").read_text().strip()
        nc = await nats.connect(
            url,
            error_cb=on_error,
            max_reconnect_attempts=0,
            inbox_prefix=inbox_prefix(name) if name != ADMIN_USER else "_INBOX",
        )
        self.opened.append(nc)
        return Participant(name, nc, errors)


@pytest.fixture
async def who(cluster: NatsCluster) -> AsyncIterator[Participants]:
    participants = Participants(cluster)
    admin = await participants(ADMIN_USER)
    await ensure_streams(admin.nc.jetstream())
    yield participants
    for nc in participants.opened:
        await nc.close()


async def stored(admin: Participant, env: Envelope) -> bool:
    found = await EventStore(admin.nc).read_aggregate(
        env.tenant, env.aggregate_type, env.aggregate_id
    )
    return any(r.envelope.id == env.id for r in found)


async def publish(p: Participant, env: Envelope) -> None:
    await p.nc.publish(subject_of(env), msgspec.json.encode(env))
    await p.nc.flush()


async def test_a_car_cannot_subscribe_to_every_inbox_or_to_everything(who: Participants) -> None:
    car = await who("car-1")
    heard: list[Msg] = []

    async def on_msg(msg: Msg) -> None:
        heard.append(msg)

    for wildcard in ("_INBOX.>", ">", "_INBOX_car-2.>", "_INBOX_planner.>"):
        await car.nc.subscribe(wildcard, cb=on_msg)
        await car.nc.flush()
        assert await car.refused(f'subscription to "{wildcard}"'), (wildcard, car.errors)
    # And nothing reaches it: a JetStream reply to another participant passes it by.
    gateway = await who("gateway")
    await gateway.nc.jetstream().stream_info("EVENTS")
    await asyncio.sleep(0.1)
    assert heard == []


async def test_a_car_cannot_speak_for_another_car_or_a_tenant(who: Participants) -> None:
    admin, car = await who(ADMIN_USER), await who("car-1")
    own = envelope(NodeParked(node_id="car-1"), tenant=PLATFORM_TENANT, aggregate_id="car-1")
    ack = await EventStore(car.nc).append([own], expected_version=None)
    assert ack.version >= 1
    forgeries = [
        # Another car's state, and a heartbeat in its name.
        envelope(NodeParked(node_id="car-2"), tenant=PLATFORM_TENANT, aggregate_id="car-2"),
        # A decision only the registry takes, about itself (the type segment is checked).
        envelope(NodeLost(node_id="car-1"), tenant=PLATFORM_TENANT, aggregate_id="car-1"),
        # A tenant's task and bill.
        envelope(TaskCompleted(task_id="t1", steps=1), tenant=TENANT, aggregate_id="t1"),
        envelope(_inference("t1", "car-1"), tenant=TENANT, aggregate_id="t1"),
    ]
    for forged in forgeries:
        await publish(car, forged)
        assert await car.refused(f'publish to "{subject_of(forged)}"'), car.errors
        assert not await stored(admin, forged)
    await car.nc.publish("fleet.hb.car-2", b'["car-2",1,1.0,0,0.0]')
    await car.nc.flush()
    assert await car.refused('publish to "fleet.hb.car-2"')


async def test_a_car_cannot_read_stream_info_subjects_or_a_tenants_events(
    who: Participants,
) -> None:
    gateway, car = await who("gateway"), await who("car-1")
    secret = envelope(
        TaskSubmitted(task_id="t2", goal="pay invoice 42", start_url="https://acme.example/"),
        tenant=TENANT,
        aggregate_id="t2",
    )
    await EventStore(gateway.nc).append([secret], expected_version=0)
    js = car.nc.jetstream(timeout=0.5)
    # Stream info (and with it the subject list: every tenant and task id).
    with pytest.raises(nats.errors.TimeoutError):
        await js.stream_info("EVENTS", subjects_filter=">")
    assert await car.refused('publish to "$js.api.stream.info.events"')
    with pytest.raises(nats.errors.TimeoutError):
        await js.account_info()
    assert await car.refused('publish to "$js.api.info"')
    # Direct get of a tenant's event, by subject and by sequence (batch form).
    with pytest.raises(nats.errors.TimeoutError):
        await js.get_last_msg("EVENTS", subject_of(secret), direct=True)
    assert await car.refused(f'publish to "$js.api.direct.get.events.{subject_of(secret)}"')
    with pytest.raises(nats.errors.TimeoutError):
        await EventStore(car.nc, timeout=0.5).read_sequence(1)
    assert await car.refused('publish to "$js.api.direct.get.events"')
    # Nor list the streams, nor run a consumer of its own over the log.
    with pytest.raises(nats.errors.TimeoutError):
        await js.find_stream_name_by_subject(f"ev.{TENANT}.>")
    assert await car.refused('publish to "$js.api.stream.names"')
    with pytest.raises(nats.errors.TimeoutError):
        await js.subscribe(f"ev.{TENANT}.>", stream="EVENTS", ordered_consumer=True)
    assert await car.refused('publish to "$js.api.consumer.create.events"')


async def test_a_service_cannot_read_another_services_inbox(who: Participants) -> None:
    planner, actuator = await who("planner"), await who("actuator")
    overheard: list[Msg] = []

    async def on_msg(msg: Msg) -> None:
        overheard.append(msg)

    for wildcard in ("_INBOX_actuator.>", "_INBOX.>", ">"):
        await planner.nc.subscribe(wildcard, cb=on_msg)
        await planner.nc.flush()
        assert await planner.refused(f'subscription to "{wildcard}"'), planner.errors
    # The actuator's own replies (a JetStream append's ack) reach the actuator alone.
    opened = envelope(SessionOpened(task_id="t3", worker="w"), tenant=TENANT, aggregate_id="t3")
    assert (await EventStore(actuator.nc).append([opened], expected_version=0)).version >= 1
    await asyncio.sleep(0.1)
    assert overheard == []


def _inference(task_id: str, node_id: str) -> InferenceCompleted:
    return InferenceCompleted(
        task_id=task_id,
        step=0,
        model="planner",
        node_id=node_id,
        owner_account="thief",
        lease_id="l1",
        compute_ms=1e9,
        input_bytes=1,
        output_bytes=1,
    )


# One event type each service does not own: what a compromised replica would forge.
FOREIGN: dict[str, Envelope] = {
    "gateway": envelope(TaskCompleted(task_id="f", steps=1), tenant=TENANT, aggregate_id="f"),
    "planner": envelope(
        BudgetExhausted(tenant_id=TENANT, period="2026-11", spent="0", cap="0"),
        tenant=TENANT,
        aggregate_id="2026-11",
    ),
    "actuator": envelope(TaskCompleted(task_id="f", steps=1), tenant=TENANT, aggregate_id="f"),
    "node-registry": envelope(
        NodeRegistered(
            node_id="car-9", owner_account="thief", chip="x", tops=1.0, memory_gb=1.0,
            power_w=1.0, models=["planner"], triton_http_url="http://127.0.0.1:9",
        ),
        tenant=PLATFORM_TENANT,
        aggregate_id="car-9",
    ),
    "billing": envelope(_inference("f", "car-1"), tenant=TENANT, aggregate_id="f"),
    "scheduler": envelope(TaskCompleted(task_id="f", steps=1), tenant=TENANT, aggregate_id="f"),
}  # fmt: skip


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
async def test_a_service_appends_only_the_event_types_it_owns(
    who: Participants, service: str
) -> None:
    admin, p = await who(ADMIN_USER), await who(service)
    forged = FOREIGN[service]
    await publish(p, forged)
    assert await p.refused(f'publish to "{subject_of(forged)}"'), p.errors
    assert not await stored(admin, forged)
    # Its own rights still work over its own inbox: the log's info and an append of its own.
    await p.nc.jetstream().stream_info("EVENTS")
    assert not [e for e in p.errors if "stream.info" in e]

"""Point 4: one address policy for every request the platform sends on someone else's say-so.

A tenant (webhook_url, start_url), a page (links, redirects) or the model (navigate) names a
URL; the webhook sender and the actuator read it as Chromium does and refuse every form of
an internal address, the numeric ones a resolver or browser accepts included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from macrohard.actuator.domain import check_url
from macrohard.actuator.guard import RequestGuard
from macrohard.contracts import envelope
from macrohard.contracts.tasks import TaskCompleted, TaskSubmitted
from macrohard.eventlog import egress
from macrohard.eventlog.store import EventStore
from tests.gateway.conftest import TASK, RunningGateway, onboard
from tests.security.conftest import Participants

# Every spelling of 127.0.0.1 that WHATWG URL parsing (Chromium) and inet_aton (libc) accept.
LOOPBACK_FORMS = ("2130706433", "0x7f000001", "127.1", "0177.0.0.1", "0x7f.1", "[::ffff:7f00:1]")
INTERNAL_URLS = (
    *(f"http://{form}/" for form in LOOPBACK_FORMS),
    "http://2852039166/latest/meta-data/",  # 169.254.169.254
    "http://0xa9fea9fe/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
    "http://[2002:7f00:1::]/",  # 6to4 of loopback
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://10.0.0.1/",
    "http://0.0.0.0/",
    "http://0/",
    "http://224.0.0.1/",
    "http://metadata.google.internal/",
    "http://user:pass@example.com/",
)


class Listener:
    """A TCP listener on loopback that counts who reaches it."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        async def on_connect(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        self.server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    lst = Listener()
    await lst.start()
    yield lst
    await lst.stop()


async def handled(participants: Participants, durable: str, sequence: int) -> None:
    """Wait until a durable consumer has acknowledged everything up to `sequence`."""
    js = (await participants.connect("admin")).jetstream()
    for _ in range(500):
        info = await js.consumer_info("EVENTS", durable)
        if info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= sequence:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{durable} never handled #{sequence}")


async def test_a_webhook_to_a_numeric_loopback_form_never_reaches_its_listener(
    production_gateway: RunningGateway, participants: Participants, listener: Listener
) -> None:
    assert listener.server is not None
    port = listener.server.sockets[0].getsockname()[1]
    tenant = await onboard(production_gateway)
    async with production_gateway.client(tenant.api_key) as client:
        for form in LOOPBACK_FORMS:
            body = {**TASK, "webhook_url": f"http://{form}:{port}/hook"}
            r = await client.post("/v1/tasks", json=body)
            assert r.status_code == 422, (form, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
    # A task already in the log with such a webhook (accepted before this check existed):
    # its delivery is refused too, the listener never sees a connection.
    gateway = EventStore(await participants.connect("gateway"))
    planner = EventStore(await participants.connect("planner"))
    for n, form in enumerate(LOOPBACK_FORMS):
        task_id = f"legacy-{n}"
        submitted = TaskSubmitted(
            task_id=task_id, goal="g", start_url="https://example.com/",
            webhook_url=f"http://{form}:{port}/hook",
        )  # fmt: skip
        await gateway.append(
            [envelope(submitted, tenant=tenant.tenant_id, aggregate_id=task_id)],
            expected_version=0,
        )
        done = envelope(
            TaskCompleted(task_id=task_id, steps=1), tenant=tenant.tenant_id, aggregate_id=task_id
        )
        ack = await planner.append([done], expected_version=None)
        await handled(participants, "gateway-webhooks", ack.version)
    assert listener.connections == 0


@pytest.mark.parametrize("url", INTERNAL_URLS)
async def test_the_actuator_refuses_the_same_forms(url: str) -> None:
    """Refused before any DNS lookup, and by the guard every browser request passes."""
    assert not check_url(url, [], local_test_mode=False).allowed, url
    guard = RequestGuard(lambda: [], local_test_mode=False, resolver=egress.Resolver())
    assert not (await guard.verdict(url)).allowed, url


async def test_a_name_resolving_to_loopback_is_refused_and_a_public_address_is_not() -> None:
    resolver = egress.Resolver()
    with pytest.raises(egress.EgressRefused, match="loopback"):
        await egress.pinned_address(egress.parse_url("http://localhost:8080/"), resolver)
    public = await egress.pinned_address(egress.parse_url("http://93.184.216.34/"), resolver)
    assert public == "93.184.216.34"


def test_the_gateway_and_chromium_read_a_backslash_url_alike() -> None:
    """`https://evil.com\\@example.com/` is evil.com to Chromium: the allowlist sees that."""
    target = egress.parse_url("https://evil.com\\@example.com/")
    assert target.host == "evil.com"
    assert not check_url(target.href, ["example.com"], local_test_mode=False).allowed

"""Durable consumers (FastStream over real JetStream): retries and the dead-letter subject."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from nats.aio.client import Client as NATS

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.eventlog.consumer import ConsumerSpec
from macrohard.eventlog.deadletter import RetryFailed, list_dead_letters, retry_dead_letter
from macrohard.eventlog.service import Service, ServiceConfig
from macrohard.eventlog.store import EventStore

Handler = Callable[[RecordedEvent], Awaitable[None]]


def submitted(task_id: str) -> TaskSubmitted:
    return TaskSubmitted(task_id=task_id, goal="g", start_url="https://example.com")


@pytest.fixture
async def run_consumer(
    nats_url: str,
) -> AsyncIterator[Callable[[ConsumerSpec, Handler], Awaitable[Service]]]:
    services: list[Service] = []

    async def start(spec: ConsumerSpec, handler: Handler) -> Service:
        service = Service(ServiceConfig(name="test", nats_url=nats_url))
        service.consume(spec, handler)
        await service.start()
        services.append(service)
        return service

    yield start
    for s in services:
        await s.stop()


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_malformed_message_is_dead_lettered_and_consumer_keeps_consuming(
    nc: NATS, store: EventStore, run_consumer: Callable[..., Awaitable[Service]]
) -> None:
    seen: list[str] = []

    async def handler(rec: RecordedEvent) -> None:
        seen.append(rec.envelope.aggregate_id)

    spec = ConsumerSpec(
        durable="dlq-test", subjects=["ev.*.task.*.TaskSubmitted"], max_deliver=2, backoff_s=(0.05,)
    )
    await run_consumer(spec, handler)
    await store.append(
        [envelope(submitted("a"), tenant="acme", aggregate_id="a")], expected_version=0
    )
    await nc.jetstream().publish("ev.acme.task.bad.TaskSubmitted", b"\x00garbage")
    await store.append(
        [envelope(submitted("b"), tenant="acme", aggregate_id="b")], expected_version=0
    )
    await wait_until(lambda: seen == ["a", "b"])
    letters: list[object] = []

    async def poll() -> None:
        letters[:] = await list_dead_letters(nc, "dlq-test")

    for _ in range(100):
        await poll()
        if letters:
            break
        await asyncio.sleep(0.05)
    assert len(letters) == 1
    letter = letters[0]
    assert letter.subject == "ev.acme.task.bad.TaskSubmitted"  # type: ignore[attr-defined]
    assert letter.deliveries == 2  # type: ignore[attr-defined]
    assert "DecodeError" in letter.error or "JSON" in letter.error  # type: ignore[attr-defined]
    assert letter.data == b"\x00garbage"  # type: ignore[attr-defined]


async def test_handler_failure_is_retried_then_succeeds(
    nc: NATS, store: EventStore, run_consumer: Callable[..., Awaitable[Service]]
) -> None:
    attempts: dict[str, int] = {}

    async def flaky(rec: RecordedEvent) -> None:
        key = rec.envelope.aggregate_id
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < 3:
            raise RuntimeError("browser not ready")

    spec = ConsumerSpec(
        durable="retry-test",
        subjects=["ev.*.task.*.TaskSubmitted"],
        max_deliver=5,
        backoff_s=(0.05,),
    )
    await run_consumer(spec, flaky)
    await store.append(
        [envelope(submitted("x"), tenant="acme", aggregate_id="x")], expected_version=0
    )
    await wait_until(lambda: attempts.get("x") == 3)
    await asyncio.sleep(0.3)
    assert attempts["x"] == 3
    assert await list_dead_letters(nc, "retry-test") == []


async def test_handler_that_always_fails_is_parked_with_its_error(
    nc: NATS, store: EventStore, run_consumer: Callable[..., Awaitable[Service]]
) -> None:
    handled: list[str] = []

    async def handler(rec: RecordedEvent) -> None:
        if rec.envelope.aggregate_id == "poison":
            raise ValueError("cannot plan this goal")
        handled.append(rec.envelope.aggregate_id)

    spec = ConsumerSpec(
        durable="poison-test",
        subjects=["ev.*.task.*.TaskSubmitted"],
        max_deliver=3,
        backoff_s=(0.05,),
    )
    await run_consumer(spec, handler)
    for tid in ("poison", "fine"):
        await store.append(
            [envelope(submitted(tid), tenant="acme", aggregate_id=tid)], expected_version=0
        )
    await wait_until(lambda: handled == ["fine"])
    for _ in range(100):
        letters = await list_dead_letters(nc, "poison-test")
        if letters:
            break
        await asyncio.sleep(0.05)
    assert [(d.deliveries, d.error) for d in letters] == [(3, "ValueError: cannot plan this goal")]


async def test_operator_retry_runs_the_handler_again_and_clears_the_letter(
    nc: NATS, store: EventStore, run_consumer: Callable[..., Awaitable[Service]]
) -> None:
    broken = True
    handled: list[str] = []

    async def handler(rec: RecordedEvent) -> None:
        if broken:
            raise RuntimeError("downstream unavailable")
        handled.append(rec.envelope.aggregate_id)

    spec = ConsumerSpec(
        durable="retry-op", subjects=["ev.*.task.*.TaskSubmitted"], max_deliver=1, backoff_s=(0.05,)
    )
    await run_consumer(spec, handler)
    await store.append(
        [envelope(submitted("late"), tenant="acme", aggregate_id="late")], expected_version=0
    )
    for _ in range(100):
        letters = await list_dead_letters(nc, "retry-op")
        if letters:
            break
        await asyncio.sleep(0.05)
    with pytest.raises(RetryFailed, match="downstream unavailable"):
        await retry_dead_letter(nc, letters[0])
    assert len(await list_dead_letters(nc, "retry-op")) == 1
    broken = False
    await retry_dead_letter(nc, letters[0])
    assert handled == ["late"]
    assert await list_dead_letters(nc, "retry-op") == []
    assert await store.stream_head() == 1  # nothing was re-appended to the log


async def test_one_handler_at_a_time_per_aggregate(
    nc: NATS, store: EventStore, run_consumer: Callable[..., Awaitable[Service]]
) -> None:
    running: dict[str, int] = {}
    overlaps: list[str] = []
    done: list[str] = []

    async def handler(rec: RecordedEvent) -> None:
        tid = rec.envelope.aggregate_id
        running[tid] = running.get(tid, 0) + 1
        if running[tid] > 1:
            overlaps.append(tid)
        await asyncio.sleep(0.05)
        running[tid] -= 1
        done.append(tid)

    spec = ConsumerSpec(
        durable="exclusive-test", subjects=["ev.*.task.*.IntentEmitted"], batch_size=16
    )
    for tid in ("a", "b"):
        version = 0
        for step in range(4):
            event = IntentEmitted(task_id=tid, step=step, intent=Intent(action="click"))
            version = (
                await store.append(
                    [envelope(event, tenant="acme", aggregate_id=tid)], expected_version=version
                )
            ).version
    await run_consumer(spec, handler)
    await wait_until(lambda: len(done) == 8)
    assert overlaps == []
    assert sorted(done) == ["a"] * 4 + ["b"] * 4

"""`mh dlq list|show|retry` on dead letters made by the kernel's own consumer."""

from __future__ import annotations

import asyncio
import json

from nats.aio.client import Client as NATS

from macrohard.contracts import envelope
from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.eventlog.consumer import ConsumerSpec
from macrohard.eventlog.deadletter import list_dead_letters
from macrohard.eventlog.service import Service, ServiceConfig
from macrohard.eventlog.store import EventStore
from tests.cli.conftest import MhRunner


async def dead_letters_from_a_failing_consumer(nats_url: str, nc: NATS, store: EventStore) -> None:
    async def handler(rec: RecordedEvent) -> None:
        raise ValueError(f"cannot plan {rec.envelope.aggregate_id}: model unreachable")

    service = Service(ServiceConfig(name="planner", nats_url=nats_url))
    service.consume(
        ConsumerSpec(
            durable="planner-tasks", subjects=["ev.*.task.*.TaskSubmitted"], max_deliver=1
        ),
        handler,
    )
    await service.start()
    try:
        for task_id in ("t-1", "t-2"):
            await store.append(
                [
                    envelope(
                        TaskSubmitted(task_id=task_id, goal="g", start_url="https://a.test"),
                        tenant="acme",
                        aggregate_id=task_id,
                    )
                ],
                expected_version=0,
            )
        for _ in range(200):
            if len(await list_dead_letters(nc)) == 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await service.stop()


async def test_list_and_show_dead_letters_with_their_errors(
    mh: MhRunner, nats_url: str, nc: NATS, store: EventStore
) -> None:
    await dead_letters_from_a_failing_consumer(nats_url, nc, store)
    r = await mh("dlq", "list")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["dlq#", "consumer", "event", "tries", "error"]
    # The consumer handles a batch concurrently: the DLQ order of the two is not fixed.
    assert sorted(line.split()[1:4] for line in lines[1:]) == [
        ["planner-tasks", "ev.acme.task.t-1.TaskSubmitted#1", "1"],
        ["planner-tasks", "ev.acme.task.t-2.TaskSubmitted#2", "1"],
    ]
    t1 = next(line for line in lines if "t-1.TaskSubmitted" in line)
    assert "ValueError: cannot plan t-1: model unreachable" in t1
    shown = json.loads((await mh("dlq", "show", t1.split()[0])).out)
    assert shown["sequence"] == 1 and shown["consumer"] == "planner-tasks"
    assert shown["message"]["payload"]["task_id"] == "t-1"
    assert shown["dead_lettered_at"]
    assert (await mh("dlq", "show", "9")).code == 1
    assert (await mh("dlq", "list", "--consumer", "billing", "--json")).out.strip() == "[]"


async def test_retry_runs_the_consumer_again_without_a_duplicate_event(
    mh: MhRunner, nats_url: str, nc: NATS, store: EventStore
) -> None:
    await dead_letters_from_a_failing_consumer(nats_url, nc, store)
    head = await store.stream_head()
    first, second = sorted(await list_dead_letters(nc), key=lambda d: d.sequence)
    # No replica of the consumer is running: the operator is told, nothing changes.
    r = await mh("dlq", "retry", str(first.dlq_sequence), "--json")
    assert r.code == 1
    [result] = json.loads(r.out)
    assert result["retried"] is False and "no running replica" in result["error"]
    # The consumer is back, its bug fixed: the same handler sees the original event.
    seen: list[RecordedEvent] = []

    async def fixed(rec: RecordedEvent) -> None:
        seen.append(rec)

    service = Service(ServiceConfig(name="planner", nats_url=nats_url))
    service.consume(
        ConsumerSpec(
            durable="planner-tasks", subjects=["ev.*.task.*.TaskSubmitted"], max_deliver=1
        ),
        fixed,
    )
    await service.start()
    try:
        r = await mh("dlq", "retry", str(first.dlq_sequence), "--json")
        assert r.code == 0, r.err
        assert json.loads(r.out)[0]["retried"] is True
        [rec] = seen
        assert (rec.sequence, rec.subject) == (first.sequence, first.subject)
        assert rec.envelope == (await store.read_sequence(first.sequence)).envelope
        assert [d.dlq_sequence for d in await list_dead_letters(nc)] == [second.dlq_sequence]
        everything = await mh("dlq", "retry", "--all")
        assert "1 of 1 dead letter(s) handled" in everything.out
    finally:
        await service.stop()
    assert await store.stream_head() == head  # nothing appended to EVENTS
    assert await list_dead_letters(nc) == []
    assert (await mh("dlq", "retry")).code == 2

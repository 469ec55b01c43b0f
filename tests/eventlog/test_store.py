"""The event store against a real NATS JetStream server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from macrohard.contracts import envelope
from macrohard.contracts.envelope import Envelope
from macrohard.contracts.tasks import TaskCancelRequested, TaskStarted, TaskSubmitted
from macrohard.eventlog.errors import ConcurrencyConflict, MixedAggregates
from macrohard.eventlog.store import EventStore


def submitted(task_id: str, tenant: str = "acme") -> Envelope:
    return envelope(
        TaskSubmitted(task_id=task_id, goal="click the button", start_url="https://example.com"),
        tenant=tenant,
        aggregate_id=task_id,
    )


def started(task_id: str, tenant: str = "acme") -> Envelope:
    return envelope(
        TaskStarted(task_id=task_id, backend="triton"), tenant=tenant, aggregate_id=task_id
    )


async def test_append_then_read_back_in_order(store: EventStore) -> None:
    first = await store.append([submitted("t1"), started("t1")], expected_version=0)
    await store.append([submitted("t2")], expected_version=0)
    events = await store.read_aggregate("acme", "task", "t1")
    assert [e.type for e in events] == ["TaskSubmitted", "TaskStarted"]
    assert [e.sequence for e in events] == first.sequences
    assert await store.aggregate_version("acme", "task", "t1") == first.version
    assert await store.aggregate_version("acme", "task", "nope") == 0


async def test_two_concurrent_writers_exactly_one_wins(store: EventStore) -> None:
    base = await store.append([submitted("t1")], expected_version=0)
    writers = [
        store.append([started("t1")], expected_version=base.version),
        store.append(
            [envelope(TaskCancelRequested(task_id="t1"), tenant="acme", aggregate_id="t1")],
            expected_version=base.version,
        ),
    ]
    results = await asyncio.gather(*writers, return_exceptions=True)
    wins = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(wins) == 1 and len(conflicts) == 1
    conflict = conflicts[0]
    assert conflict.aggregate == "acme.task.t1"
    assert conflict.expected_version == base.version
    assert conflict.actual_version == wins[0].version
    assert len(await store.read_aggregate("acme", "task", "t1")) == 2


async def test_conflict_on_creating_an_existing_aggregate(store: EventStore) -> None:
    await store.append([submitted("t1")], expected_version=0)
    with pytest.raises(ConcurrencyConflict) as err:
        await store.append([submitted("t1")], expected_version=0)
    assert err.value.expected_version == 0


async def test_same_event_appended_twice_is_stored_once(store: EventStore) -> None:
    event = submitted("t1")
    first = await store.append([event], expected_version=0)
    # A retry with the version it originally expected (its first attempt landed, the crash
    # came before it saw the ack): recognised by id, not reported as a conflict.
    again = await store.append([event], expected_version=0)
    # A retry that re-read the aggregate first: JetStream's de-duplication drops it.
    third = await store.append([event], expected_version=first.version)
    assert again.sequences == first.sequences == third.sequences
    assert again.duplicates == 1 and third.duplicates == 1
    assert len(await store.read_aggregate("acme", "task", "t1")) == 1
    assert await store.stream_head() == 1


async def test_unchecked_append_is_still_deduplicated(store: EventStore) -> None:
    event = submitted("t1")
    await store.append([event], expected_version=None)
    await store.append([event], expected_version=None)
    assert await store.stream_head() == 1


async def test_one_append_is_one_aggregate(store: EventStore) -> None:
    with pytest.raises(MixedAggregates):
        await store.append([submitted("t1"), submitted("t2")], expected_version=0)


async def test_fold_and_time_travel(store: EventStore) -> None:
    s1 = await store.append([submitted("t1")], expected_version=0)
    await asyncio.sleep(0.05)
    events = await store.read_aggregate("acme", "task", "t1")
    cut_time = events[0].envelope.occurred_at + timedelta(milliseconds=20)
    await store.append([started("t1")], expected_version=s1.version)

    def evolve(state: list[str], env: Envelope) -> list[str]:
        return [*state, env.type]

    now = await store.load(evolve, [], "acme", "task", "t1")
    assert now.state == ["TaskSubmitted", "TaskStarted"] and now.events == 2
    at_seq = await store.load(evolve, [], "acme", "task", "t1", up_to_seq=s1.version)
    assert at_seq.state == ["TaskSubmitted"] and at_seq.version == s1.version
    at_time = await store.load(evolve, [], "acme", "task", "t1", up_to_time=cut_time)
    assert at_time.state == ["TaskSubmitted"]


async def test_reading_more_events_than_one_batch(store: EventStore) -> None:
    version = 0
    for _ in range(3):
        batch = [started("big") for _ in range(500)]
        version = (await store.append(batch, expected_version=version)).version
    events = await store.read_aggregate("acme", "task", "big")
    assert len(events) == 1500
    assert [e.sequence for e in events] == sorted(e.sequence for e in events)


async def test_read_by_sequence(store: EventStore) -> None:
    res = await store.append([submitted("t1")], expected_version=0)
    rec = await store.read_sequence(res.version)
    assert rec.type == "TaskSubmitted" and rec.subject == "ev.acme.task.t1.TaskSubmitted"

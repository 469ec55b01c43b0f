"""Point 1 (the operator's side door): whoever may retry dead letters (the gateway's
console, `mh dlq retry`) can make a consumer handle again what the log holds for it, and
nothing else: not an event it made up, not an event outside the consumer's filter.

Before, a retry carried the event itself: the gateway's identity, which may not append a
`PageObserved`, could hand the planner's handler one that no permission ever let into the
log."""

from __future__ import annotations

import asyncio

import msgspec

from macrohard.contracts import REGISTRY, envelope, subject_of
from macrohard.contracts.browser import PageObservation, PageObserved
from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.subjects import dlq_retry_subject
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.eventlog.consumer import ConsumerSpec
from macrohard.eventlog.deadletter import H_SEQUENCE, H_SUBJECT
from macrohard.eventlog.service import Service, ServiceConfig
from macrohard.eventlog.store import EventStore
from tests.security.conftest import Participants

PAGE = PageObservation(url="https://example.com/", title="t", elements=[])


async def test_a_retry_cannot_feed_a_consumer_an_event_the_log_does_not_hold(
    participants: Participants,
) -> None:
    seen: list[RecordedEvent] = []

    async def handler(rec: RecordedEvent) -> None:
        seen.append(rec)

    service = Service(ServiceConfig(name="planner", nats_url=participants.url("planner")))
    service.consume(
        ConsumerSpec(durable="planner-pages", subjects=["ev.*.browser.*.PageObserved"]), handler
    )
    await service.start()
    try:
        actuator = EventStore(await participants.connect("actuator"))
        real = envelope(
            PageObserved(task_id="t1", step=1, observation=PAGE), tenant="acme", aggregate_id="t1"
        )
        [real_seq] = (await actuator.append([real], expected_version=0)).sequences
        gateway = await participants.connect("gateway")
        submitted = envelope(
            TaskSubmitted(task_id="t2", goal="g", start_url=""), tenant="acme", aggregate_id="t2"
        )
        appended = await EventStore(gateway).append([submitted], expected_version=0)
        [other_seq] = appended.sequences
        for _ in range(250):
            if seen:
                break
            await asyncio.sleep(0.02)

        async def retry(seq: int, body: bytes, subject: str) -> dict[str, object]:
            reply = await gateway.request(
                dlq_retry_subject("planner-pages"),
                body,
                5.0,
                headers={H_SEQUENCE: str(seq), H_SUBJECT: subject},
            )
            return dict(msgspec.json.decode(reply.data))

        # A made-up observation for beta's task, naming the real event's place in the log.
        forged = envelope(
            PageObserved(task_id="t9", step=1, observation=PAGE), tenant="beta", aggregate_id="t9"
        )
        body = REGISTRY.encode(forged)
        assert (await retry(real_seq, body, subject_of(forged)))["ok"] is True
        # The same at a place that holds no event, and at one the consumer does not select.
        missing = await retry(other_seq + 100, body, subject_of(forged))
        outside = await retry(other_seq, body, subject_of(forged))
    finally:
        await service.stop()
    assert missing["ok"] is False and "no event at sequence" in str(missing["error"])
    assert outside["ok"] is False and "not one planner-pages consumes" in str(outside["error"])
    # The handler saw the real event (delivered, then retried) and nothing else.
    assert [r.envelope.id for r in seen] == [real.id, real.id]

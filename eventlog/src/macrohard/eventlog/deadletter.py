"""The dead-letter stream: where a message goes after it failed too often, with its error.

A poisoned message must not block its consumer forever (at-least-once delivery would
redeliver it endlessly), nor be silently dropped: it is copied, with what went wrong, to
`dlq.<consumer>.<stream sequence>` and the original is acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import msgspec
from nats.aio.client import Client as NATS

from macrohard.contracts.subjects import DLQ_PREFIX, DLQ_STREAM, dlq_retry_subject, dlq_subject
from macrohard.eventlog.reader import StoredMessage, read_message, read_stream

H_ERROR = "Mh-Dlq-Error"
H_CONSUMER = "Mh-Dlq-Consumer"
H_SUBJECT = "Mh-Dlq-Subject"
H_SEQUENCE = "Mh-Dlq-Sequence"
H_DELIVERIES = "Mh-Dlq-Deliveries"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dlq_sequence: int
    consumer: str
    subject: str
    sequence: int
    deliveries: int
    error: str
    data: bytes
    time: datetime | None


def retry_subject(consumer: str) -> str:
    """Core NATS subject on which a consumer's replicas accept operator retries."""
    return dlq_retry_subject(consumer)


async def dead_letter(
    nc: NATS,
    *,
    consumer: str,
    subject: str,
    sequence: int,
    deliveries: int,
    error: str,
    data: bytes,
) -> None:
    """Copy a failed message to the DLQ stream; de-duplicated per consumer and sequence."""
    headers = {
        "Nats-Msg-Id": f"{consumer}:{sequence}",
        H_ERROR: error[:4000].replace("\r", " ").replace("\n", " | "),
        H_CONSUMER: consumer,
        H_SUBJECT: subject,
        H_SEQUENCE: str(sequence),
        H_DELIVERIES: str(deliveries),
    }
    reply = await nc.request(dlq_subject(consumer, sequence), data, 5.0, headers=headers)
    ack = msgspec.json.decode(reply.data)
    if "error" in ack:
        raise RuntimeError(f"dead-lettering {subject}#{sequence} failed: {ack['error']}")


def _letter(stored: StoredMessage) -> DeadLetter:
    h = stored.headers
    return DeadLetter(
        dlq_sequence=stored.sequence,
        consumer=h.get(H_CONSUMER, ""),
        subject=h.get(H_SUBJECT, ""),
        sequence=int(h.get(H_SEQUENCE, "0")),
        deliveries=int(h.get(H_DELIVERIES, "0")),
        error=h.get(H_ERROR, ""),
        data=stored.data,
        time=stored.stored_at,
    )


async def list_dead_letters(nc: NATS, consumer: str = "*") -> list[DeadLetter]:
    """Every dead letter (of one consumer, or all), oldest first."""
    return [
        _letter(stored)
        async for stored in read_stream(nc, DLQ_STREAM, f"{DLQ_PREFIX}.{consumer}.*")
    ]


async def read_dead_letter(nc: NATS, dlq_sequence: int) -> DeadLetter | None:
    """One dead letter by its sequence in the DLQ stream, or None when there is none."""
    stored = await read_message(nc, DLQ_STREAM, dlq_sequence)
    return None if stored is None else _letter(stored)


class RetryRefused(ValueError):
    """A retry request that names no event its consumer handles."""


class RetryFailed(RuntimeError):
    def __init__(self, letter: DeadLetter, error: str) -> None:
        super().__init__(f"retry of {letter.subject}#{letter.sequence} failed: {error}")
        self.letter = letter
        self.error = error


async def retry_dead_letter(nc: NATS, letter: DeadLetter, timeout: float = 30.0) -> None:
    """Hand a dead letter back to its consumer's handler; delete it from the DLQ on success.

    Raises RetryFailed with the handler's error, or nats' NoRespondersError when no replica
    of that consumer is running.
    """
    # Only the event's place in the log: the consumer reads the event from there.
    headers = {H_SEQUENCE: str(letter.sequence)}
    reply = await nc.request(retry_subject(letter.consumer), b"", timeout, headers=headers)
    outcome = msgspec.json.decode(reply.data)
    if not outcome.get("ok"):
        raise RetryFailed(letter, str(outcome.get("error")))
    await nc.jetstream().delete_msg(DLQ_STREAM, letter.dlq_sequence)

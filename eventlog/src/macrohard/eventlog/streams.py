"""Provisioning of the streams and buckets the platform runs on.

One stream, EVENTS, holds every event of every context. Why one and not one per context:
- replay, `mh trace` and cross-context projections (billing reads tasks, fleet and agent
  events) need one total order, which only a single stream gives;
- optimistic concurrency is per subject filter and works the same inside one stream;
- one stream is one duplicate window and one retention policy to reason about.
The price is a single write path; at this scale one JetStream stream sustains far more than
the platform appends, and per-tenant subjects keep a later split by tenant possible.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError

from macrohard.contracts.fleet import REGISTRY_BUCKET
from macrohard.contracts.subjects import (
    DLQ_PREFIX,
    DLQ_STREAM,
    EVENT_PREFIX,
    EVENTS_STREAM,
    SUBMISSION_CLAIMS_BUCKET,
)

# A retried append after a crash must be dropped as a duplicate even if the process took a
# long time to come back; 24 h costs little memory at our rates (one id per message).
DUPLICATE_WINDOW_S = 24 * 3600.0
HEARTBEAT_BUCKET = "heartbeats"
# How long a gateway replica's claim on an Idempotency-Key outlives a crash of that replica
# (a live one deletes it as soon as its append is answered).
SUBMISSION_CLAIM_TTL_S = 30.0


def events_stream_config(replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=EVENTS_STREAM,
        subjects=[f"{EVENT_PREFIX}.>"],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        # Batch direct get serves aggregate loads in one round trip without a consumer.
        allow_direct=True,
        # History is the source of truth: nobody deletes or purges it.
        deny_delete=True,
        deny_purge=True,
    )


def dlq_stream_config(replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=DLQ_STREAM,
        subjects=[f"{DLQ_PREFIX}.>"],
        storage=StorageType.FILE,
        num_replicas=replicas,
        allow_direct=True,
        max_age=30 * 24 * 3600.0,
    )


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """Create the streams and buckets if missing (idempotent; safe from every service)."""
    for config in (events_stream_config(replicas), dlq_stream_config(replicas)):
        try:
            await js.stream_info(config.name or "")
        except NotFoundError:
            try:
                await js.add_stream(config)
            except BadRequestError as exc:
                # Another service created it between our look and our create.
                if exc.err_code != 10058:
                    raise
    try:
        await js.key_value(HEARTBEAT_BUCKET)
    except Exception:
        # Heartbeats are telemetry: memory storage, one value per node, expiring on their own.
        await js.create_key_value(
            KeyValueConfig(
                bucket=HEARTBEAT_BUCKET,
                history=1,
                ttl=300.0,
                storage=StorageType.MEMORY,
                replicas=replicas,
            )
        )
    # Coordination buckets, replicated like the log so that losing one NATS node stops
    # neither lease placement nor submissions (a service creating one on first use would
    # create it with one replica, on whichever node it asked).
    for bucket in coordination_bucket_configs(replicas):
        try:
            await js.key_value(bucket.bucket)
        except BucketNotFoundError:
            await js.create_key_value(bucket)


def coordination_bucket_configs(replicas: int = 1) -> list[KeyValueConfig]:
    """The registry replicas' partition table and lease slots (kept across a NATS restart),
    and the gateway replicas' claims on Idempotency-Keys in flight (expiring on their own
    when the replica that made one died before deleting it)."""
    return [
        KeyValueConfig(
            bucket=REGISTRY_BUCKET, history=1, storage=StorageType.FILE, replicas=replicas
        ),
        KeyValueConfig(
            bucket=SUBMISSION_CLAIMS_BUCKET,
            history=1,
            ttl=SUBMISSION_CLAIM_TTL_S,
            # File: a memory bucket is gone after a restart of NATS, and every submission
            # with an Idempotency-Key would answer 503 until something recreated it.
            storage=StorageType.FILE,
            replicas=replicas,
        ),
    ]

"""The artifact store against a real nats-server: content-addressed, per tenant, streamed,
checked against its hash, deletable."""

from __future__ import annotations

import hashlib

import pytest
from nats.aio.client import Client as NATS

from macrohard.contracts.artifacts import ARTIFACT_BUCKET, object_name
from macrohard.eventlog.artifacts import CHUNK_BYTES, ArtifactStore, CorruptArtifact


async def test_bytes_round_trip_by_their_sha256_once_per_tenant(nc: NATS) -> None:
    files = ArtifactStore(nc)
    data = bytes(range(256)) * (CHUNK_BYTES // 100)  # several chunks
    first = await files.put("acme", data, content_type="text/csv")
    assert first.artifact_id == hashlib.sha256(data).hexdigest() and first.new
    assert first.size == len(data)
    again = await files.put("acme", data, content_type="text/csv")
    assert again.artifact_id == first.artifact_id and not again.new
    assert await files.get("acme", first.artifact_id) == data
    opened = await files.open("acme", first.artifact_id)
    assert opened is not None and opened[0] == len(data)
    chunks = [chunk async for chunk in opened[1]]
    assert len(chunks) > 1 and b"".join(chunks) == data  # streamed chunk by chunk

    # Another tenant holds nothing under that id, even knowing it.
    assert await files.get("globex", first.artifact_id) is None
    assert await files.open("globex", first.artifact_id) is None
    assert not await files.exists("globex", first.artifact_id)

    assert await files.delete("acme", first.artifact_id) == len(data)
    assert await files.get("acme", first.artifact_id) is None
    assert await files.delete("acme", first.artifact_id) == 0
    # Stored again after the delete: new bytes again.
    assert (await files.put("acme", data, content_type="text/csv")).new


async def test_bytes_that_do_not_hash_to_their_id_are_never_served_whole(nc: NATS) -> None:
    files = ArtifactStore(nc)
    data = b"a" * (CHUNK_BYTES * 2 + 10)
    stored = await files.put("acme", data, content_type="text/plain")
    # Someone with the bucket's rights rewrites the object's bytes under the same name.
    bucket = await nc.jetstream().object_store(ARTIFACT_BUCKET)
    await bucket.put(object_name("acme", stored.artifact_id), b"b" * len(data))
    opened = await files.open("acme", stored.artifact_id)
    assert opened is not None
    received: list[bytes] = []
    with pytest.raises(CorruptArtifact):
        async for chunk in opened[1]:
            received.append(chunk)
    assert len(b"".join(received)) < len(data)

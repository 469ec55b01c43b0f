"""The artifact store against a real nats-server: content-addressed, per tenant, deletable."""

from __future__ import annotations

import hashlib

from nats.aio.client import Client as NATS

from macrohard.eventlog.artifacts import CHUNK_BYTES, ArtifactStore


async def test_bytes_round_trip_by_their_sha256_once_per_tenant(nc: NATS) -> None:
    files = ArtifactStore(nc)
    data = bytes(range(256)) * (CHUNK_BYTES // 100)  # several chunks
    first = await files.put("acme", data, content_type="text/csv")
    assert first.artifact_id == hashlib.sha256(data).hexdigest() and first.new
    assert first.size == len(data)
    again = await files.put("acme", data, content_type="text/csv")
    assert again.artifact_id == first.artifact_id and not again.new
    assert await files.get("acme", first.artifact_id) == data

    # Another tenant holds nothing under that id, even knowing it.
    assert await files.get("globex", first.artifact_id) is None
    assert not await files.exists("globex", first.artifact_id)

    assert await files.delete("acme", first.artifact_id) == len(data)
    assert await files.get("acme", first.artifact_id) is None
    assert await files.delete("acme", first.artifact_id) == 0
    # Stored again after the delete: new bytes again.
    assert (await files.put("acme", data, content_type="text/csv")).new

"""A tenant's files in JetStream Object Store: content-addressed, one bucket per tenant.

The kernel side of artifacts (see `macrohard.contracts.artifacts` for why the Object Store):
the gateway stores uploads and serves fetches, the actuator stores downloads and reads the
files a task brings. Both go through this class, so there is one naming rule (the object's
name is the SHA-256 of its bytes, hex) and one way a bucket comes into being (on the first
file a tenant stores, with the log's replica count).

Storing the same bytes again stores nothing: `put` sees the object is there and says so
(`Stored.new` False), which is what billing needs to meter bytes once. Two replicas storing
the same new bytes at the same moment both write the same content under the same name (the
Object Store's rollup keeps one); both report it new, a double count of one file's bytes
that the next delete corrects in storage, not in what was billed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import ObjectMeta, ObjectMetaOptions, ObjectStoreConfig
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from macrohard.contracts.artifacts import artifact_bucket

# Chunks of the bucket's stream: big enough to keep a large file's message count low, small
# enough to stay well under the server's max payload (1 MiB by default).
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Stored:
    artifact_id: str  # SHA-256 hex
    size: int
    new: bool  # False: the same bytes were already stored for this tenant


def artifact_id_of(data: bytes) -> str:
    """The id of these bytes: their SHA-256, hex."""
    return hashlib.sha256(data).hexdigest()


class ArtifactStore:
    """Put, get and delete a tenant's files by their SHA-256."""

    def __init__(self, js: JetStreamContext, *, replicas: int = 1) -> None:
        self._js = js
        self._replicas = replicas
        self._buckets: dict[str, ObjectStore] = {}

    async def _bucket(self, tenant: str, *, create: bool) -> ObjectStore | None:
        cached = self._buckets.get(tenant)
        if cached is not None:
            return cached
        name = artifact_bucket(tenant)
        try:
            bucket = await self._js.object_store(name)
        except (BucketNotFoundError, NotFoundError):
            if not create:
                return None
            # Identical configs make a concurrent create by another replica harmless.
            config = ObjectStoreConfig(
                bucket=name,
                description=f"files of tenant {tenant}",
                replicas=self._replicas,
            )
            bucket = await self._js.create_object_store(name, config=config)
        self._buckets[tenant] = bucket
        return bucket

    async def exists(self, tenant: str, artifact_id: str) -> bool:
        bucket = await self._bucket(tenant, create=False)
        if bucket is None:
            return False
        try:
            await bucket.get_info(artifact_id)
        except ObjectNotFoundError:
            return False
        return True

    async def put(self, tenant: str, data: bytes, *, content_type: str) -> Stored:
        """Store the bytes under their SHA-256 (nothing is written when they are there)."""
        artifact_id = artifact_id_of(data)
        if await self.exists(tenant, artifact_id):
            return Stored(artifact_id, len(data), new=False)
        bucket = await self._bucket(tenant, create=True)
        assert bucket is not None
        meta = ObjectMeta(
            name=artifact_id,
            description=content_type,
            options=ObjectMetaOptions(max_chunk_size=CHUNK_BYTES),
        )
        await bucket.put(artifact_id, data, meta=meta)
        return Stored(artifact_id, len(data), new=True)

    async def get(self, tenant: str, artifact_id: str) -> bytes | None:
        """The bytes, or None when this tenant has no such file (or deleted it)."""
        bucket = await self._bucket(tenant, create=False)
        if bucket is None:
            return None
        try:
            result = await bucket.get(artifact_id)
        except ObjectNotFoundError:
            return None
        return bytes(result.data or b"")

    async def delete(self, tenant: str, artifact_id: str) -> int:
        """Delete the file; the bytes it freed (0 when there was none)."""
        bucket = await self._bucket(tenant, create=False)
        if bucket is None:
            return 0
        try:
            info = await bucket.get_info(artifact_id)
            await bucket.delete(artifact_id)
        except ObjectNotFoundError:
            return 0
        return int(info.size or 0)

    async def used_bytes(self, tenant: str) -> int:
        """What the tenant's files take in its bucket (the stream's bytes, headers included)."""
        bucket = await self._bucket(tenant, create=False)
        if bucket is None:
            return 0
        status = await bucket.status()
        return int(status.stream_info.state.bytes or 0)

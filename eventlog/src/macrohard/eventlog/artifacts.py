"""Tenants' files in JetStream Object Store: content-addressed, named by tenant.

The kernel side of artifacts (see `macrohard.contracts.artifacts` for why the Object Store
and why one bucket): the gateway stores uploads and serves fetches, the actuator stores
downloads and reads the files a task brings. Both go through this class, so there is one
naming rule (`<tenant>/<sha256 hex>`: every call takes the tenant, and no name is built
from anything else) and one way the bucket comes into being (on the first file stored, with
the log's replica count).

Reading goes through the kernel's one log reader (`reader.read_stream`, batch direct get on
the chunk subject) rather than nats-py's ordered consumer: no consumer to create, no stream
lookup by subject (a right the services do not have), and the bytes are checked against
their SHA-256, the id they were asked for, before anyone gets them.

Storing the same bytes again stores nothing: `put` sees the object is there and says so
(`Stored.new` False), which is what billing needs to meter bytes once. Two replicas storing
the same new bytes at the same moment both write the same content under the same name (the
Object Store's rollup keeps one); both report it new, one file's bytes counted twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.js.api import ObjectMeta, ObjectMetaOptions, ObjectStoreConfig
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from macrohard.contracts.artifacts import ARTIFACT_BUCKET, object_name
from macrohard.eventlog.reader import read_stream

# Chunks of the bucket's stream: big enough to keep a large file's message count low, small
# enough to stay well under the server's max payload (1 MiB by default).
CHUNK_BYTES = 256 * 1024
BUCKET_STREAM = f"OBJ_{ARTIFACT_BUCKET}"


class CorruptArtifact(Exception):
    """The stored bytes do not hash to their name: never served."""


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

    def __init__(self, nc: NATS, *, replicas: int = 1) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._replicas = replicas
        self._bucket_handle: ObjectStore | None = None

    async def _bucket(self, *, create: bool) -> ObjectStore | None:
        if self._bucket_handle is not None:
            return self._bucket_handle
        try:
            bucket = await self._js.object_store(ARTIFACT_BUCKET)
        except (BucketNotFoundError, NotFoundError):
            if not create:
                return None
            # Identical configs make a concurrent create by another replica harmless.
            config = ObjectStoreConfig(
                bucket=ARTIFACT_BUCKET, description="tenants' files", replicas=self._replicas
            )
            bucket = await self._js.create_object_store(ARTIFACT_BUCKET, config=config)
        self._bucket_handle = bucket
        return bucket

    async def exists(self, tenant: str, artifact_id: str) -> bool:
        bucket = await self._bucket(create=False)
        if bucket is None:
            return False
        try:
            await bucket.get_info(object_name(tenant, artifact_id))
        except ObjectNotFoundError:
            return False
        return True

    async def put(self, tenant: str, data: bytes, *, content_type: str) -> Stored:
        """Store the bytes under their SHA-256 (nothing is written when they are there)."""
        artifact_id = artifact_id_of(data)
        if await self.exists(tenant, artifact_id):
            return Stored(artifact_id, len(data), new=False)
        bucket = await self._bucket(create=True)
        assert bucket is not None
        name = object_name(tenant, artifact_id)
        meta = ObjectMeta(
            name=name,
            description=content_type,
            options=ObjectMetaOptions(max_chunk_size=CHUNK_BYTES),
        )
        await bucket.put(name, data, meta=meta)
        return Stored(artifact_id, len(data), new=True)

    async def get(self, tenant: str, artifact_id: str) -> bytes | None:
        """The bytes, or None when this tenant has no such file (or deleted it)."""
        opened = await self.open(tenant, artifact_id)
        if opened is None:
            return None
        return b"".join([chunk async for chunk in opened[1]])

    async def open(self, tenant: str, artifact_id: str) -> tuple[int, AsyncIterator[bytes]] | None:
        """(size, the bytes chunk by chunk), or None when this tenant has no such file.

        The chunks are hashed as they pass: bytes that do not hash to their id raise
        `CorruptArtifact` before the last chunk, so a reader never receives a whole file
        that is not the one it asked for (a streamed answer is cut short instead).
        """
        bucket = await self._bucket(create=False)
        if bucket is None:
            return None
        try:
            info = await bucket.get_info(object_name(tenant, artifact_id))
        except ObjectNotFoundError:
            return None
        subject = f"$O.{ARTIFACT_BUCKET}.C.{info.nuid}"

        async def chunks() -> AsyncIterator[bytes]:
            digest = hashlib.sha256()
            held = b""  # one chunk held back until the hash of everything is known
            async for message in read_stream(self._nc, BUCKET_STREAM, subject, batch=16):
                if held:
                    yield held
                digest.update(message.data)
                held = message.data
            if digest.hexdigest() != artifact_id:
                raise CorruptArtifact(f"{tenant}/{artifact_id}: stored bytes do not match")
            if held:
                yield held

        return int(info.size or 0), chunks()

    async def delete(self, tenant: str, artifact_id: str) -> int:
        """Delete the file; the bytes it freed (0 when there was none)."""
        bucket = await self._bucket(create=False)
        if bucket is None:
            return 0
        name = object_name(tenant, artifact_id)
        try:
            info = await bucket.get_info(name)
            await bucket.delete(name)
        except ObjectNotFoundError:
            return 0
        return int(info.size or 0)

"""Claims on Idempotency-Keys in flight, shared by every gateway replica (JetStream KV).

The log alone already lets one submission per key in (the task id is derived from the key and
appended at expected version 0). What it cannot say is that a request with that key is being
stored right now on another replica: a retry arriving there meanwhile must be told 409 (try
again), exactly as on the replica that holds the request, not raced against it. A claim is
one KV key created by compare-and-set (`create` fails if the key exists); the replica deletes
it once its append is answered, and the bucket's TTL removes the claim of a replica that
died holding one.
"""

from __future__ import annotations

import hashlib

from nats.aio.client import Client as NATS
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from macrohard.contracts.subjects import SUBMISSION_CLAIMS_BUCKET


def claim_key(tenant: str, idempotency_key: str) -> str:
    """A KV key for (tenant, Idempotency-Key): hashed, since a client's key may hold any
    character and KV keys may not."""
    return hashlib.sha256(f"{tenant}\x00{idempotency_key}".encode()).hexdigest()


class SubmissionClaims:
    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            # Provisioned with the streams (`ensure_streams`, `mh streams init`).
            self._kv = await self._nc.jetstream().key_value(SUBMISSION_CLAIMS_BUCKET)
        return self._kv

    async def claim(self, tenant: str, idempotency_key: str) -> bool:
        """True if this request now holds the key; False if another request does."""
        kv = await self._bucket()
        try:
            await kv.create(claim_key(tenant, idempotency_key), b"")
        except KeyWrongLastSequenceError:
            return False
        return True

    async def release(self, tenant: str, idempotency_key: str) -> None:
        kv = await self._bucket()
        await kv.purge(claim_key(tenant, idempotency_key))

"""What request handlers share: connections, settings, auth, limits, read-your-writes.

One `GatewayContext` per process, built by main.py (or a test) around a started `Service`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg
import msgspec
from litestar.exceptions import HTTPException, NotAuthorizedException
from nats.aio.client import Client as NATS

from macrohard.contracts.envelope import Envelope
from macrohard.eventlog import EventStore, ProjectionRunner
from macrohard.eventlog.artifacts import ArtifactStore
from macrohard.gateway import keys
from macrohard.gateway.claims import SubmissionClaims
from macrohard.gateway.domain import TaskView, TokenBucket, fold_task

decode_view = msgspec.json.Decoder(TaskView).decode


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    admin_token: str
    master_key: bytes
    rate_per_s: float = 200.0
    rate_burst: float = 400.0
    max_body_bytes: int = 64 * 1024
    max_lag: int = 10_000  # /readyz fails above this many unapplied events
    read_wait_s: float = 5.0  # how long a write waits for the projection to see it
    auth_cache_s: float = 2.0  # bound on how long another replica honours a revoked key


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    key_id: str
    allowed_domains: tuple[str, ...] = ()


class TooManyRequests(HTTPException):
    status_code = 429

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(
            detail=f"rate limit exceeded, retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


@dataclass
class GatewayContext:
    nc: NATS
    store: EventStore
    pool: asyncpg.Pool
    runner: ProjectionRunner
    settings: GatewaySettings
    # Local test mode: webhooks may target loopback (the tests' receivers), nothing else.
    allow_loopback_webhooks: bool = False
    _auth_cache: dict[str, tuple[Principal, float]] = field(default_factory=dict)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    claims: SubmissionClaims = field(init=False)
    # Replicas of a tenant's file bucket when the gateway creates it (the log's count).
    file_replicas: int = 1
    _files: ArtifactStore | None = None

    def __post_init__(self) -> None:
        self.claims = SubmissionClaims(self.nc)

    @property
    def files(self) -> ArtifactStore:
        """The tenants' files (JetStream Object Store, one bucket per tenant)."""
        if self._files is None:
            self._files = ArtifactStore(self.nc, replicas=self.file_replicas)
        return self._files

    # --- auth -------------------------------------------------------------------------

    def forget_key(self, key_hash: str) -> None:
        self._auth_cache.pop(key_hash, None)

    async def authenticate(self, authorization: str | None) -> Principal:
        """The tenant behind a Bearer key; also spends one token of its rate limit."""
        secret = _bearer(authorization)
        if secret is None or not keys.well_formed(secret):
            raise NotAuthorizedException(detail="missing or malformed API key")
        key_hash = keys.hash_key(secret)
        now = time.monotonic()
        cached = self._auth_cache.get(key_hash)
        if cached is not None and cached[1] > now:
            principal = cached[0]
        else:
            row = await self.pool.fetchrow(
                """SELECT k.key_id, k.tenant_id, k.key_hash, t.allowed_domains
                   FROM gateway.api_keys k JOIN gateway.tenants t USING (tenant_id)
                   WHERE k.key_hash = $1 AND k.revoked_at IS NULL""",
                key_hash,
            )
            if row is None or not keys.hashes_equal(row["key_hash"], key_hash):
                raise NotAuthorizedException(detail="unknown or revoked API key")
            principal = Principal(
                tenant_id=row["tenant_id"],
                key_id=row["key_id"],
                allowed_domains=tuple(row["allowed_domains"]),
            )
            self._auth_cache[key_hash] = (principal, now + self.settings.auth_cache_s)
        self.rate_limit(principal.tenant_id)
        return principal

    def check_admin(self, authorization: str | None) -> None:
        token = _bearer(authorization)
        if token is None or not keys.hashes_equal(token, self.settings.admin_token):
            raise NotAuthorizedException(detail="admin token required")

    def rate_limit(self, tenant: str) -> None:
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = self._buckets[tenant] = TokenBucket(
                self.settings.rate_per_s, self.settings.rate_burst
            )
        wait = bucket.take(time.monotonic())
        if wait > 0:
            raise TooManyRequests(wait)

    # --- reads ------------------------------------------------------------------------

    async def wait_seen(self, sequence: int) -> None:
        """Return once the projection has applied `sequence` (read your own writes)."""
        deadline = time.monotonic() + self.settings.read_wait_s
        # On a replica that does not run the projection this reads the shared checkpoint:
        # poll it less often than the in-memory one.
        while await self.runner.applied() < sequence:
            if time.monotonic() > deadline:
                raise HTTPException(
                    status_code=503, detail="read model is behind", headers={"Retry-After": "1"}
                )
            await asyncio.sleep(0.005 if self.runner.active else 0.02)

    async def task_row(self, tenant: str, task_id: str) -> tuple[TaskView, str | None] | None:
        row = await self.pool.fetchrow(
            """SELECT view::text AS view, request_hash FROM gateway.tasks
               WHERE tenant_id = $1 AND task_id = $2""",
            tenant,
            task_id,
        )
        if row is None:
            return None
        return decode_view(row["view"]), row["request_hash"]

    async def find_task(self, tenant: str, task_id: str) -> TaskView | None:
        """The projection's row, or, if it has not caught up yet, the task folded from the log.

        Read-through instead of waiting on every submit: POST stays one append, and the
        subject filter `ev.<tenant>.task.<id>.>` scopes the read to the caller's tenant.
        """
        if not token_ok(task_id):  # never an id we issued; also keeps NUL away from SQL
            return None
        found = await self.task_row(tenant, task_id)
        if found is not None:
            return found[0]
        return (await self.task_from_log(tenant, task_id))[0]

    async def task_from_log(self, tenant: str, task_id: str) -> tuple[TaskView | None, int]:
        if not token_ok(task_id):
            return None, 0
        task_events = await self.store.read_aggregate(tenant, "task", task_id)
        browser = await self.store.read_aggregate(tenant, "browser", task_id)
        merged = sorted([*task_events, *browser], key=lambda r: r.sequence)
        envelopes: list[Envelope] = [r.envelope for r in merged]
        version = task_events[-1].sequence if task_events else 0
        return fold_task(envelopes), version


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_ok(value: str) -> bool:
    return (
        0 < len(value) <= 128 and all(c.isalnum() or c in "-_" for c in value) and value.isascii()
    )

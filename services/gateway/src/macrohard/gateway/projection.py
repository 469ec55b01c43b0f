"""The gateway's read models in schema `gateway`: tenants, API keys by hash, tasks, files.

One projection (one checkpoint) for all three, so "has the gateway seen sequence N" is one
number: the API waits on it after onboarding and key changes (read your own writes).
A task row keeps the folded `TaskView` as JSON: the same `evolve_task` the read-through path
uses, so both always agree. Per batch: one SELECT of the touched tasks, fold in memory, one
pipelined upsert; at 1,000 submissions/s a batch is a few dozen rows.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from datetime import datetime

import msgspec

from macrohard.contracts.artifacts import ArtifactDeleted, ArtifactStored
from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.contracts.tenancy import (
    ApiKeyIssued,
    ApiKeyRevoked,
    FirstKey,
    TenantBudgetChanged,
    TenantDomainsChanged,
    TenantOnboarded,
)
from macrohard.eventlog.db import Conn
from macrohard.gateway.domain import TaskView, evolve_task

DDL = """
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE TABLE IF NOT EXISTS gateway.tenants (
    tenant_id text PRIMARY KEY,
    name text NOT NULL,
    plan text NOT NULL,
    allowed_domains text[] NOT NULL,
    monthly_budget numeric NOT NULL,
    currency text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS gateway.api_keys (
    key_id text PRIMARY KEY,
    tenant_id text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    prefix text NOT NULL,
    preview text NOT NULL,
    label text NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON gateway.api_keys (tenant_id, created_at);
CREATE TABLE IF NOT EXISTS gateway.tasks (
    tenant_id text NOT NULL,
    task_id text NOT NULL,
    submitted_seq bigint NOT NULL,
    status text NOT NULL,
    request_hash text,
    view jsonb NOT NULL,
    PRIMARY KEY (tenant_id, task_id)
);
CREATE INDEX IF NOT EXISTS tasks_newest ON gateway.tasks (tenant_id, submitted_seq DESC);
CREATE TABLE IF NOT EXISTS gateway.artifacts (
    tenant_id text NOT NULL,
    artifact_id text NOT NULL,
    name text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL,
    source text NOT NULL,
    task_id text NOT NULL,
    url text NOT NULL,
    stored_at timestamptz NOT NULL,
    stored_seq bigint NOT NULL,
    deleted_at timestamptz,
    PRIMARY KEY (tenant_id, artifact_id)
);
CREATE INDEX IF NOT EXISTS artifacts_newest ON gateway.artifacts (tenant_id, stored_seq DESC);
"""

_decode_view = msgspec.json.Decoder(TaskView).decode
_YIELD_EVERY = 64
# An escaped NUL (`\u0000`) not itself preceded by an escaping backslash.
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _clean(text: str) -> str:
    """PostgreSQL text and jsonb reject NUL. Events come from other services and from web
    pages (titles, errors), so the read model replaces it rather than stop on it."""
    return text.replace("\x00", "\ufffd")


def _view_json(view: TaskView) -> str:
    text = msgspec.json.encode(view).decode()
    # The substring test is ~100x cheaper than the regex and almost always false.
    return _JSON_NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


class GatewayProjection:
    name = "gateway"
    subjects: Sequence[str] = (
        "ev.*.tenant.>",
        "ev.*.apikey.>",
        "ev.*.task.>",
        "ev.*.browser.>",
        "ev.*.artifact.>",
    )

    def __init__(self, on_key_revoked: Callable[[str], None] | None = None) -> None:
        # Lets the process drop a revoked key from its auth cache at once.
        self._on_key_revoked = on_key_revoked

    async def create(self, conn: Conn) -> None:
        await conn.execute(DDL)

    async def drop(self, conn: Conn) -> None:
        await conn.execute(
            "DROP TABLE IF EXISTS gateway.tenants, gateway.api_keys, gateway.tasks, "
            "gateway.artifacts CASCADE"
        )

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        # A download's artifact shows on its task as well as in the tenant's files.
        task_events = [
            e
            for e in events
            if e.envelope.aggregate_type in ("task", "browser")
            or (isinstance(e.payload, ArtifactStored) and e.payload.task_id)
        ]
        # Tenancy and file events are rare: applied one statement each, in order.
        for rec in events:
            if rec.envelope.aggregate_type in ("tenant", "apikey"):
                await self._apply_tenancy(conn, rec)
            elif rec.envelope.aggregate_type == "artifact":
                await self._apply_artifact(conn, rec)
        if task_events:
            await self._apply_tasks(conn, task_events)

    async def _insert_key(
        self, conn: Conn, tenant_id: str, key: ApiKeyIssued | FirstKey, at: datetime
    ) -> None:
        await conn.execute(
            """INSERT INTO gateway.api_keys VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
               ON CONFLICT (key_id) DO NOTHING""",
            key.key_id,
            tenant_id,
            key.key_hash,
            key.prefix,
            key.preview,
            _clean(key.label),
            at,
        )

    async def _apply_tenancy(self, conn: Conn, rec: RecordedEvent) -> None:
        p, at = rec.payload, rec.envelope.occurred_at
        if isinstance(p, TenantOnboarded):
            await conn.execute(
                """INSERT INTO gateway.tenants VALUES ($1, $2, $3, $4, $5::numeric, $6, $7)
                   ON CONFLICT (tenant_id) DO NOTHING""",
                p.tenant_id,
                _clean(p.name),
                _clean(p.plan),
                [_clean(d) for d in p.allowed_domains],
                p.monthly_budget,
                p.currency,
                at,
            )
            if p.first_key is not None:
                await self._insert_key(conn, p.tenant_id, p.first_key, at)
        elif isinstance(p, TenantBudgetChanged):
            await conn.execute(
                "UPDATE gateway.tenants SET monthly_budget = $2::numeric WHERE tenant_id = $1",
                p.tenant_id,
                p.monthly_budget,
            )
        elif isinstance(p, TenantDomainsChanged):
            await conn.execute(
                "UPDATE gateway.tenants SET allowed_domains = $2 WHERE tenant_id = $1",
                p.tenant_id,
                [_clean(d) for d in p.allowed_domains],
            )
        elif isinstance(p, ApiKeyIssued):
            await self._insert_key(conn, p.tenant_id, p, at)
        elif isinstance(p, ApiKeyRevoked):
            key_hash = await conn.fetchval(
                """UPDATE gateway.api_keys SET revoked_at = coalesce(revoked_at, $3)
                   WHERE key_id = $1 AND tenant_id = $2 RETURNING key_hash""",
                p.key_id,
                p.tenant_id,
                at,
            )
            if key_hash and self._on_key_revoked:
                self._on_key_revoked(key_hash)

    async def _apply_artifact(self, conn: Conn, rec: RecordedEvent) -> None:
        p, at, tenant = rec.payload, rec.envelope.occurred_at, rec.envelope.tenant
        if isinstance(p, ArtifactStored):
            # The same bytes stored again (another task, or after a delete) keep one row:
            # the first name and task, live again, dated anew only if it had been deleted.
            await conn.execute(
                """INSERT INTO gateway.artifacts
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)
                   ON CONFLICT (tenant_id, artifact_id) DO UPDATE SET deleted_at = NULL,
                   stored_at = CASE WHEN gateway.artifacts.deleted_at IS NULL
                       THEN gateway.artifacts.stored_at ELSE EXCLUDED.stored_at END,
                   stored_seq = CASE WHEN gateway.artifacts.deleted_at IS NULL
                       THEN gateway.artifacts.stored_seq ELSE EXCLUDED.stored_seq END""",
                tenant, p.artifact_id, _clean(p.name), _clean(p.content_type), p.size,
                p.source, p.task_id, _clean(p.url), at, rec.sequence,
            )  # fmt: skip
        elif isinstance(p, ArtifactDeleted):
            await conn.execute(
                """UPDATE gateway.artifacts SET deleted_at = $3
                   WHERE tenant_id = $1 AND artifact_id = $2""",
                tenant,
                p.artifact_id,
                at,
            )

    async def _apply_tasks(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        keys = {(e.envelope.tenant, _task_id(e)) for e in events}
        rows = await conn.fetch(
            """SELECT tenant_id, task_id, submitted_seq, request_hash, view::text AS view
               FROM gateway.tasks t JOIN unnest($1::text[], $2::text[]) AS k(tn, id)
               ON t.tenant_id = k.tn AND t.task_id = k.id""",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        state: dict[tuple[str, str], tuple[int, str | None, TaskView | None]] = {
            (r["tenant_id"], r["task_id"]): (
                r["submitted_seq"],
                r["request_hash"],
                _decode_view(r["view"]),
            )
            for r in rows
        }
        for n, rec in enumerate(events, 1):
            if n % _YIELD_EVERY == 0:
                # The API shares this event loop: a large catch-up batch must not stall it.
                await asyncio.sleep(0)
            key = (rec.envelope.tenant, _task_id(rec))
            seq, fingerprint, view = state.get(key, (0, None, None))
            if view is None and isinstance(rec.payload, TaskSubmitted):
                seq, fingerprint = rec.sequence, rec.payload.request_hash
            view = evolve_task(view, rec.envelope)
            state[key] = (seq, fingerprint, view)
        await conn.executemany(
            """INSERT INTO gateway.tasks VALUES ($1, $2, $3, $4, $5, $6::jsonb)
               ON CONFLICT (tenant_id, task_id) DO UPDATE
               SET status = EXCLUDED.status, view = EXCLUDED.view""",
            [
                (tenant, task_id, seq, view.status, fingerprint, _view_json(view))
                for (tenant, task_id), (seq, fingerprint, view) in state.items()
                if view is not None and (tenant, task_id) in keys
            ],
        )


def _task_id(rec: RecordedEvent) -> str:
    # Browser sessions are keyed by their task; both aggregates carry `task_id`.
    return str(getattr(rec.payload, "task_id", rec.envelope.aggregate_id))

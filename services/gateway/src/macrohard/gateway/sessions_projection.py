"""The tenant's saved sessions as a list (`GET /v1/sessions`, the plan's count limit).

Metadata only, one row per session: who holds it, who saved the state, when it expires and
how large it is. The sealed state itself is never projected: it stays in the log, where only
the actuator opens it. A deleted session's row goes. One session is read from its own
aggregate when it matters (a claim, a delete): this list may trail the log by a moment.
"""

from __future__ import annotations

from collections.abc import Sequence

from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.sessions import (
    SESSION_AGGREGATE,
    SessionClaimed,
    SessionDeleted,
    SessionReleased,
    SessionSaved,
)
from macrohard.eventlog.db import Conn

DDL = """
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE TABLE IF NOT EXISTS gateway.sessions (
    tenant_id text NOT NULL,
    name text NOT NULL,
    holder text NOT NULL DEFAULT '',
    saved_by text NOT NULL DEFAULT '',
    saved_at timestamptz,
    expires_at timestamptz,
    size_bytes bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, name)
);
"""


class SessionsProjection:
    name = "gateway_sessions"
    subjects: Sequence[str] = (f"ev.*.{SESSION_AGGREGATE}.>",)

    async def create(self, conn: Conn) -> None:
        await conn.execute(DDL)

    async def drop(self, conn: Conn) -> None:
        await conn.execute("DROP TABLE IF EXISTS gateway.sessions")

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        # Session events are rare (two per task that names one): a statement each, in order,
        # with the same rules as the fold (`evolve_session`): only the holder ends a hold.
        for rec in events:
            p, tenant, at = rec.payload, rec.envelope.tenant, rec.envelope.occurred_at
            if isinstance(p, SessionClaimed):
                await conn.execute(
                    """INSERT INTO gateway.sessions (tenant_id, name, holder) VALUES ($1, $2, $3)
                       ON CONFLICT (tenant_id, name) DO UPDATE SET holder = EXCLUDED.holder""",
                    tenant, p.name, p.task_id,
                )  # fmt: skip
            elif isinstance(p, SessionSaved):
                await conn.execute(
                    """UPDATE gateway.sessions SET holder = '', saved_by = $3, saved_at = $4,
                              expires_at = $5, size_bytes = $6
                       WHERE tenant_id = $1 AND name = $2 AND holder = $3""",
                    tenant, p.name, p.task_id, at, p.expires_at, p.size_bytes,
                )  # fmt: skip
            elif isinstance(p, SessionReleased):
                await conn.execute(
                    """UPDATE gateway.sessions SET holder = ''
                       WHERE tenant_id = $1 AND name = $2 AND holder = $3""",
                    tenant, p.name, p.task_id,
                )  # fmt: skip
            elif isinstance(p, SessionDeleted):
                await conn.execute(
                    "DELETE FROM gateway.sessions WHERE tenant_id = $1 AND name = $2",
                    tenant, p.name,
                )  # fmt: skip

"""Rebuilding a projection up to an exact point of the log, beside or instead of live.

What `mh replay` and the shadow verification (`shadow.py`) build on.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from macrohard.contracts.envelope import RecordedEvent
from macrohard.eventlog.db import Conn
from macrohard.eventlog.projection import Projection


class Bounded:
    """A projection that ignores events after `limit`: a rebuild that stops exactly there.

    Why a wrapper: the runner's `run(until=)` returns after the batch that reaches `until`,
    which may hold later events; filtering inside `apply` makes the cut exact. The caller
    then sets the checkpoint back to `limit` (see `rewind_checkpoint`).
    """

    def __init__(self, inner: Projection, limit: int | None) -> None:
        self.inner = inner
        self.limit = limit
        self.name = inner.name
        self.subjects = inner.subjects
        self.applied = 0

    async def create(self, conn: Conn) -> None:
        await self.inner.create(conn)

    async def drop(self, conn: Conn) -> None:
        await self.inner.drop(conn)

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        kept = [e for e in events if self.limit is None or e.sequence <= self.limit]
        if kept:
            await self.inner.apply(conn, kept)
        self.applied += len(kept)


async def rewind_checkpoint(pool: asyncpg.Pool, name: str, limit: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE eventlog.checkpoints SET position = $2 WHERE projection = $1 AND position > $2",
            name,
            limit,
        )


async def live_checkpoint(conn: Conn, name: str) -> int | None:
    """The live projection's position, or None when it has never run here."""
    if not await conn.fetchval("SELECT to_regclass('eventlog.checkpoints') IS NOT NULL"):
        return None
    value = await conn.fetchval(
        "SELECT position FROM eventlog.checkpoints WHERE projection = $1", name
    )
    return None if value is None else int(value)

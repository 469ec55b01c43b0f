"""Every projection of the platform, by name, and running one up to an exact sequence.

The catalogue asks each service's own `build()` which projections it registers (the same
code that runs in production, so the list cannot drift), plus the kernel's event index.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import asyncpg

from macrohard.contracts.envelope import RecordedEvent
from macrohard.devkit.services import SERVICES
from macrohard.eventlog.db import Conn
from macrohard.eventlog.index import EventIndexProjection
from macrohard.eventlog.projection import Projection
from macrohard.eventlog.service import Service, ServiceConfig


class _ProjectionCollector(Service):
    """A Service that only records what `build()` registers; it never connects."""

    def __init__(self) -> None:
        super().__init__(ServiceConfig(name="mh-replay"))
        self.collected: list[Projection] = []

    def project(self, projection: Projection) -> None:
        self.collected.append(projection)


def load_object(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def catalogue(extra: Sequence[str] = ()) -> dict[str, Projection]:
    """name -> projection. `extra` names more as `module:attr` (a class or an instance)."""
    found: list[Projection] = [EventIndexProjection()]
    collector = _ProjectionCollector()
    for module_name in SERVICES.values():
        build = getattr(importlib.import_module(module_name), "build", None)
        if build is not None:
            build(collector)
    found.extend(collector.collected)
    for target in extra:
        obj = load_object(target)
        found.append(obj() if isinstance(obj, type) else obj)  # type: ignore[arg-type]
    return {p.name: p for p in found}


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

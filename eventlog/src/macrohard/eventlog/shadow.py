"""Rebuild projections (`mh replay --verify`) from the log into a shadow and diff with live.

The shadow is a fresh, temporary DATABASE on the same server, not a schema: projections
write schema-qualified tables (`eventlog.event_index`, `gateway.tasks`), so redirecting
them with `search_path` would not work, while a database created from scratch gives every
projection exactly its own tables with no convention asked of their authors. What *is*
asked: a projection's rows must follow from the events alone (use `occurred_at`, never
`now()` or random ids), otherwise verify reports the difference — rightly, since a
rebuild would not reproduce that read model either.

The live side is read in one REPEATABLE READ snapshot, and each shadow is rebuilt up to
that snapshot's checkpoint, so a projection that is merely behind is not a difference.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from nats.aio.client import Client as NATS

from macrohard.eventlog.db import Conn
from macrohard.eventlog.projection import Projection, ProjectionRunner
from macrohard.eventlog.rebuild import Bounded, live_checkpoint

MAX_SHOWN = 20  # differences printed per table; the count is always complete

TABLES_SQL = """
SELECT table_schema || '.' || table_name FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
"""
KEY_SQL = """
SELECT a.attname FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)
"""


@dataclass
class TableDiff:
    table: str
    live_rows: int
    shadow_rows: int
    differences: list[str] = field(default_factory=list)
    count: int = 0


@dataclass
class ProjectionVerdict:
    projection: str
    position: int | None
    tables: list[TableDiff] = field(default_factory=list)
    skipped: str = ""

    @property
    def differences(self) -> int:
        return sum(t.count for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return {
            "projection": self.projection,
            "position": self.position,
            "skipped": self.skipped,
            "differences": self.differences,
            "tables": [t.__dict__ for t in self.tables],
        }


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def diff_rows(
    table: str,
    live: list[dict[str, Any]],
    shadow: list[dict[str, Any]],
    key: list[str],
    ignore: frozenset[str] | set[str] = frozenset(),
) -> TableDiff:
    """Rows that differ between live and shadow: by primary key where there is one,
    otherwise as multisets of whole rows."""

    def clean(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if f"{table}.{k}" not in ignore and k not in ignore}

    out = TableDiff(table, len(live), len(shadow))

    def note(text: str) -> None:
        out.count += 1
        if len(out.differences) < MAX_SHOWN:
            out.differences.append(text)

    if key:
        live_by = {tuple(r.get(k) for k in key): clean(r) for r in live}
        shadow_by = {tuple(r.get(k) for k in key): clean(r) for r in shadow}
        for k in sorted(live_by.keys() | shadow_by.keys(), key=repr):
            label = ", ".join(f"{c}={v}" for c, v in zip(key, k, strict=True))
            a, b = live_by.get(k), shadow_by.get(k)
            if b is None:
                note(f"{table} [{label}]: in live only: {json.dumps(a, default=str)}")
            elif a is None:
                note(f"{table} [{label}]: missing from live, rebuilt: {json.dumps(b, default=str)}")
            elif a != b:
                cols = sorted(c for c in a.keys() | b.keys() if a.get(c) != b.get(c))
                for c in cols:
                    note(f"{table} [{label}] {c}: live={a.get(c)!r} rebuilt={b.get(c)!r}")
        return out

    def as_text(rows: list[dict[str, Any]]) -> Counter[str]:
        return Counter(json.dumps(clean(r), sort_keys=True) for r in rows)

    a_rows, b_rows = as_text(live), as_text(shadow)
    for row, n in (a_rows - b_rows).items():
        note(f"{table}: {n}x in live only: {row}")
    for row, n in (b_rows - a_rows).items():
        note(f"{table}: {n}x missing from live, rebuilt: {row}")
    return out


async def _tables(conn: Conn) -> set[str]:
    return {r[0] for r in await conn.fetch(TABLES_SQL)}


async def _rows(conn: Conn, table: str) -> list[dict[str, Any]]:
    schema, _, name = table.partition(".")
    sql = f'SELECT to_jsonb(t)::text FROM "{schema}"."{name}" t'
    return [json.loads(r[0]) for r in await conn.fetch(sql)]


async def verify_projection(
    nc: NATS,
    live: Conn,
    shadow_pool: asyncpg.Pool,
    projection: Projection,
    ignore: set[str],
) -> ProjectionVerdict:
    position = await live_checkpoint(live, projection.name)
    verdict = ProjectionVerdict(projection.name, position)
    if position is None:
        verdict.skipped = "not running live here (no checkpoint)"
        return verdict
    async with shadow_pool.acquire() as conn:
        before = await _tables(conn)
    bounded = Bounded(projection, position)
    runner = ProjectionRunner(nc, shadow_pool, bounded)
    await runner.setup()
    if position > 0:
        await runner.run(live=False, until=position)
    async with shadow_pool.acquire() as conn:
        owned = sorted((await _tables(conn)) - before - {"eventlog.checkpoints"})
        live_tables = await _tables(live)
        for table in owned:
            if table not in live_tables:
                diff = TableDiff(table, 0, len(await _rows(conn, table)))
                diff.count = 1
                diff.differences.append(f"{table}: missing from the live database")
                verdict.tables.append(diff)
                continue
            key = [r[0] for r in await conn.fetch(KEY_SQL, table)]
            verdict.tables.append(
                diff_rows(table, await _rows(live, table), await _rows(conn, table), key, ignore)
            )
    return verdict


async def verify_all(
    nc: NATS, database_url: str, projections: list[Projection], ignore: set[str]
) -> list[ProjectionVerdict]:
    """Build every projection in a temporary database and compare it with the live one."""
    shadow_name = f"mh_verify_{uuid.uuid4().hex[:12]}"
    live = await asyncpg.connect(database_url)
    try:
        await live.execute(f'CREATE DATABASE "{shadow_name}"')
        try:
            shadow_pool = await asyncpg.create_pool(
                with_database(database_url, shadow_name), min_size=1, max_size=4
            )
            try:
                verdicts = []
                # One snapshot of the live side for the whole comparison.
                async with live.transaction(isolation="repeatable_read", readonly=True):
                    for projection in projections:
                        verdicts.append(
                            await verify_projection(nc, live, shadow_pool, projection, ignore)
                        )
                return verdicts
            finally:
                await shadow_pool.close()
        finally:
            await live.execute(f'DROP DATABASE IF EXISTS "{shadow_name}" WITH (FORCE)')
    finally:
        await live.close()

"""A small read model used by the kernel's own tests: events per task, and every event row.

Also runnable as a script so a test can kill it at a precise point:
    python sample_projection.py NATS_URL DATABASE_URL CRASH_AT_BATCH
exits the process abruptly (no commit, no cleanup) after writing the rows of batch N and
before the runner writes the checkpoint.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence

import asyncpg
import nats

from macrohard.contracts.envelope import RecordedEvent
from macrohard.eventlog.projection import ProjectionRunner


class TaskCounts:
    name = "sample_task_counts"
    subjects = ("ev.*.task.>",)

    def __init__(self, crash_at_batch: int | None = None) -> None:
        self._crash_at = crash_at_batch
        self._batches = 0

    async def create(self, conn: asyncpg.Connection) -> None:
        await conn.execute(
            """CREATE SCHEMA IF NOT EXISTS sample;
               CREATE TABLE IF NOT EXISTS sample.task_counts (
                   tenant text, task_id text, events int NOT NULL, last_type text,
                   PRIMARY KEY (tenant, task_id));
               CREATE TABLE IF NOT EXISTS sample.event_rows (
                   seq bigint PRIMARY KEY, type text NOT NULL, task_id text NOT NULL)"""
        )

    async def drop(self, conn: asyncpg.Connection) -> None:
        await conn.execute("DROP TABLE IF EXISTS sample.task_counts, sample.event_rows")

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        # Catch-up path: one COPY for the rows, one multi-row upsert for the counters.
        await conn.copy_records_to_table(
            "event_rows",
            schema_name="sample",
            records=[(e.sequence, e.type, e.envelope.aggregate_id) for e in events],
        )
        counts: dict[tuple[str, str], tuple[int, str]] = {}
        for e in events:
            key = (e.envelope.tenant, e.envelope.aggregate_id)
            n, _ = counts.get(key, (0, ""))
            counts[key] = (n + 1, e.type)
        await conn.executemany(
            """INSERT INTO sample.task_counts VALUES ($1, $2, $3, $4)
               ON CONFLICT (tenant, task_id) DO UPDATE
               SET events = sample.task_counts.events + EXCLUDED.events,
                   last_type = EXCLUDED.last_type""",
            [(t, a, n, last) for (t, a), (n, last) in counts.items()],
        )
        self._batches += 1
        if self._crash_at is not None and self._batches == self._crash_at:
            os._exit(17)  # the rows are written, the checkpoint is not, nothing is committed


async def _main(nats_url: str, database_url: str, crash_at: int) -> None:
    nc = await nats.connect(nats_url)
    pool = await asyncpg.create_pool(database_url)
    runner = ProjectionRunner(nc, pool, TaskCounts(crash_at), batch_size=100)
    await runner.setup()
    await runner.catch_up()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2], int(sys.argv[3])))

"""The event index: one row per event (who, what, which aggregate, which request).

A read model like any other, and the one operators use: `mh trace` finds every event of a
correlation id here instead of scanning the log, and `mh events tail --since` by time.
"""

from __future__ import annotations

from collections.abc import Sequence

from macrohard.contracts.envelope import RecordedEvent
from macrohard.eventlog.db import Conn


class EventIndexProjection:
    name = "event_index"
    subjects: Sequence[str] = ("ev.>",)

    async def create(self, conn: Conn) -> None:
        await conn.execute(
            """
            CREATE SCHEMA IF NOT EXISTS eventlog;
            CREATE TABLE IF NOT EXISTS eventlog.event_index (
                seq bigint PRIMARY KEY,
                event_id uuid NOT NULL,
                type text NOT NULL,
                tenant text NOT NULL,
                aggregate_type text NOT NULL,
                aggregate_id text NOT NULL,
                occurred_at timestamptz NOT NULL,
                correlation_id text NOT NULL,
                causation_id text
            )
            """
        )

    async def create_indexes(self, conn: Conn) -> None:
        # Built after a rebuild has caught up rather than maintained row by row (see
        # IndexedProjection): `mh trace` looks up by correlation, `mh events show` by id.
        await conn.execute(
            """
            CREATE INDEX IF NOT EXISTS event_index_correlation
                ON eventlog.event_index (correlation_id);
            CREATE INDEX IF NOT EXISTS event_index_event_id ON eventlog.event_index (event_id);
            CREATE INDEX IF NOT EXISTS event_index_time ON eventlog.event_index (occurred_at);
            """
        )

    async def drop(self, conn: Conn) -> None:
        await conn.execute("DROP TABLE IF EXISTS eventlog.event_index")

    async def apply(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        # COPY: one round trip per batch, the fastest way into PostgreSQL while catching up.
        await conn.copy_records_to_table(
            "event_index",
            schema_name="eventlog",
            records=[
                (
                    e.sequence,
                    h.id,
                    h.type,
                    h.tenant,
                    h.aggregate_type,
                    h.aggregate_id,
                    h.occurred_at,
                    h.correlation_id,
                    h.causation_id,
                )
                for e in events
                for h in (e.header,)
            ],
        )

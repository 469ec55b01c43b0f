"""Billing's fixtures: its projection runner on the shared real NATS and PostgreSQL."""

from __future__ import annotations

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from macrohard.billing.projection import BillingProjection
from macrohard.eventlog.projection import ProjectionRunner


@pytest.fixture
async def runner(nc: NATS, pool: asyncpg.Pool) -> ProjectionRunner:
    r = ProjectionRunner(nc, pool, BillingProjection(), batch_size=500)
    await r.setup()
    return r


async def table(pool: asyncpg.Pool, name: str, order: str) -> list[tuple[object, ...]]:
    async with pool.acquire() as conn:
        return [
            tuple(r) for r in await conn.fetch(f"SELECT * FROM billing.{name} ORDER BY {order}")
        ]

"""`mh replay`: rebuild a projection (to a sequence) and verify every one against a shadow."""

from __future__ import annotations

import json

import asyncpg
from nats.aio.client import Client as NATS

from macrohard.contracts import envelope
from macrohard.contracts.tasks import TaskCancelRequested
from macrohard.eventlog.index import EventIndexProjection
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.cli.conftest import MhRunner, RecordedRun
from tests.eventlog.sample_projection import TaskCounts

SAMPLE = "tests.eventlog.sample_projection:TaskCounts"


async def run_live(nc: NATS, pool: asyncpg.Pool) -> None:
    """What the services do: run their projections up to the head."""
    for projection in (EventIndexProjection(), TaskCounts()):
        runner = ProjectionRunner(nc, pool, projection)
        await runner.setup()
        await runner.catch_up()


async def test_replay_rebuilds_a_projection_exactly_up_to_a_sequence(
    mh: MhRunner, recorded_run: RecordedRun, pool: asyncpg.Pool
) -> None:
    to = recorded_run.seq_of("ActionExecuted", 0)
    r = await mh("replay", "event_index", "--to", str(to), "--json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["events"] == to and summary["position"] == to
    assert summary["events_per_s"] > 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT max(seq) FROM eventlog.event_index") == to
        assert (
            await conn.fetchval(
                "SELECT position FROM eventlog.checkpoints WHERE projection = 'event_index'"
            )
            == to
        )
    full = await mh("replay", "event_index")
    assert full.code == 0 and full.out.startswith("rebuilt event_index: ")
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM eventlog.event_index")
            == len(recorded_run.envelopes) + 2
        )


async def test_replay_list_and_unknown(mh: MhRunner, recorded_run: RecordedRun) -> None:
    listed = await mh("replay", "--list", "--extra", SAMPLE)
    assert "event_index  ev.>" in listed.out and "sample_task_counts" in listed.out
    assert (await mh("replay", "nope")).code == 2


async def test_verify_passes_on_a_faithful_read_model_even_when_it_lags(
    mh: MhRunner, recorded_run: RecordedRun, nc: NATS, pool: asyncpg.Pool, store: EventStore
) -> None:
    await run_live(nc, pool)
    # Events the live projections have not applied yet are lag, not a difference.
    await store.append(
        [envelope(TaskCancelRequested(task_id="t-1"), tenant="acme", aggregate_id="t-1")],
        expected_version=None,
    )
    r = await mh("replay", "--verify", "--extra", SAMPLE)
    assert r.code == 0, r.out + r.err
    assert "✔ event_index" in r.out and "✔ sample_task_counts" in r.out
    assert r.out.strip().endswith("verify: 0 difference(s)")


async def test_verify_catches_a_corrupted_row_and_a_missing_row(
    mh: MhRunner, recorded_run: RecordedRun, nc: NATS, pool: asyncpg.Pool
) -> None:
    await run_live(nc, pool)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE sample.task_counts SET events = 99 WHERE tenant = 'acme' AND task_id = 't-1'"
        )
        await conn.execute("DELETE FROM eventlog.event_index WHERE seq = 3")
    r = await mh("replay", "--verify", "--extra", SAMPLE)
    assert r.code == 1
    assert "sample.task_counts [tenant=acme, task_id=t-1] events: live=99 rebuilt=" in r.out
    assert "eventlog.event_index [seq=3]: missing from live" in r.out
    assert "verify: 2 difference(s)" in r.out
    doc = json.loads((await mh("replay", "--verify", "--extra", SAMPLE, "--json")).out)
    assert doc["differences"] == 2
    # Leaving the corrupted column out of the comparison is explicit, and then only the
    # missing row remains.
    ignored = await mh(
        "replay", "--verify", "sample_task_counts", "--extra", SAMPLE, "--ignore", "events"
    )
    assert ignored.code == 0, ignored.out


async def test_verify_skips_projections_that_do_not_run_here(
    mh: MhRunner, recorded_run: RecordedRun
) -> None:
    r = await mh("replay", "--verify")
    assert r.code == 0
    assert "- event_index: skipped, not running live here" in r.out

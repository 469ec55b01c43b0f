"""`mh events tail|show` on a recorded run."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import asyncpg
from nats.aio.client import Client as NATS

from macrohard.contracts import envelope
from macrohard.contracts.browser import SessionClosed
from macrohard.contracts.tasks import TaskCancelRequested
from macrohard.eventlog.index import EventIndexProjection
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.cli.conftest import MhRunner, RecordedRun


async def test_tail_prints_one_line_per_event_with_key_fields(
    mh: MhRunner, recorded_run: RecordedRun
) -> None:
    r = await mh("events", "tail", "-n", "100")
    assert r.code == 0, r.err
    lines = r.out.strip().splitlines()
    assert len(lines) == len(recorded_run.envelopes) + 2  # + the noise tenant's two events
    first = lines[0].split()
    assert first[0] == "#1" and first[1] == "2026-11-25T12:00:00.100Z"
    assert first[2] == "ev.acme.tenant.acme.TenantOnboarded"
    step1 = next(line for line in lines if "IntentEmitted" in line)
    assert "step=1" in step1 and "action=type" in step1 and "element=2" in step1


async def test_tail_filters_by_tenant_aggregate_type_and_count(
    mh: MhRunner, recorded_run: RecordedRun
) -> None:
    r = await mh("events", "tail", "--tenant", "globex", "--json")
    events = [json.loads(line) for line in r.out.splitlines()]
    assert [e["envelope"]["type"] for e in events] == ["TaskSubmitted", "TaskFailed"]
    r = await mh("events", "tail", "--aggregate", "browser", "--type", "PageObserved", "--json")
    events = [json.loads(line) for line in r.out.splitlines()]
    assert [e["envelope"]["payload"]["step"] for e in events] == [0, 1, 2]
    r = await mh("events", "tail", "-n", "2", "--aggregate", "task/t-1", "--json")
    assert [json.loads(x)["envelope"]["type"] for x in r.out.splitlines()] == [
        "IntentEmitted",
        "TaskCompleted",
    ]


async def test_tail_since_starts_at_a_time(mh: MhRunner, recorded_run: RecordedRun) -> None:
    everything = await mh("events", "tail", "--since", "1h", "--json")
    assert len(everything.out.splitlines()) == len(recorded_run.envelopes) + 2
    nothing = await mh("events", "tail", "--since", "2099-01-01T00:00:00Z", "--json")
    assert nothing.code == 0 and nothing.out == ""


async def test_show_by_sequence_and_by_event_id_with_and_without_the_index(
    mh: MhRunner, recorded_run: RecordedRun, nc: NATS, pool: asyncpg.Pool
) -> None:
    completed = next(e for e in recorded_run.envelopes if e.type == "TaskCompleted")
    seq = recorded_run.sequences[completed.id]
    by_seq = json.loads((await mh("events", "show", str(seq))).out)
    assert by_seq["envelope"]["id"] == completed.id
    assert by_seq["envelope"]["payload"]["result"] == "signed in"
    assert by_seq["subject"] == "ev.acme.task.t-1.TaskCompleted"
    # No index projection yet: found by scanning.
    scanned = json.loads((await mh("events", "show", completed.id)).out)
    assert scanned["sequence"] == seq
    # With the index, the lookup goes through eventlog.event_index.
    runner = ProjectionRunner(nc, pool, EventIndexProjection())
    await runner.setup()
    await runner.catch_up()
    indexed = json.loads((await mh("events", "show", completed.id)).out)
    assert indexed == scanned
    missing = await mh("events", "show", "0190aaaa-0000-7000-8000-000000000000")
    assert missing.code == 1 and "no event" in missing.err


async def test_follow_prints_events_as_they_are_appended(
    recorded_run: RecordedRun, nats_url: str, tmp_path: Path, store: EventStore
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "macrohard.cli.main",
        "events",
        "tail",
        "-n",
        "1",
        "--follow",
        "--aggregate",
        "task",
        "--json",
        "--nats",
        nats_url,
        "--data-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
        assert first["envelope"]["type"] == "TaskFailed"  # the last task event so far
        late = envelope(TaskCancelRequested(task_id="t-1"), tenant="acme", aggregate_id="t-1")
        await store.append([late], expected_version=None)
        await store.append(  # not a task: filtered out
            [envelope(SessionClosed(task_id="t-1"), tenant="acme", aggregate_id="b-t-1")],
            expected_version=None,
        )
        followed = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
        assert followed["envelope"]["id"] == late.id
    finally:
        proc.terminate()
        await proc.wait()

"""`mh trace`: the causation tree of one request, with timings, across services."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from nats.aio.client import Client as NATS

from macrohard.contracts import envelope
from macrohard.contracts.tasks import TaskCancelRequested
from macrohard.eventlog.index import EventIndexProjection
from macrohard.eventlog.projection import ProjectionRunner
from macrohard.eventlog.store import EventStore
from tests.cli.conftest import MhRunner, RecordedRun


def flatten(node: dict[str, Any], depth: int = 0) -> list[tuple[int, str, str, float]]:
    rows = [(depth, node["type"], node["service"], node["since_root_ms"])]
    for child in node["children"]:
        rows += flatten(child, depth + 1)
    return rows


async def test_trace_builds_the_causation_tree_with_services_and_timings(
    mh: MhRunner, recorded_run: RecordedRun
) -> None:
    r = await mh("trace", recorded_run.correlation_id, "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["events"] == len(recorded_run.envelopes) - 1  # all but the onboarding
    [root] = doc["roots"]
    rows = flatten(root)
    assert rows[0] == (0, "TaskSubmitted", "gateway", 0.0)
    assert rows[1][:3] == (1, "TaskStarted", "planner")
    assert rows[2][:3] == (2, "SessionOpened", "actuator")
    # The click of step 2 sits under its intent, which sits under the page it was decided on.
    depth = {t: d for d, t, _, _ in rows if t in ("ActionExecuted",)}
    assert depth["ActionExecuted"] > 2
    started = root["children"][0]
    assert started["since_cause_ms"] == 100.0
    assert {"gateway", "planner", "actuator"} <= {r[2] for r in rows}


async def test_trace_text_and_index_plus_scan_of_the_tail(
    mh: MhRunner, recorded_run: RecordedRun, store: EventStore, nc: NATS, pool: asyncpg.Pool
) -> None:
    runner = ProjectionRunner(nc, pool, EventIndexProjection())
    await runner.setup()
    await runner.catch_up()
    # An event after the index's checkpoint must still be found (scanned).
    submitted = recorded_run.envelopes[1]
    late = envelope(
        TaskCancelRequested(task_id="t-1", reason="late"),
        tenant="acme",
        aggregate_id="t-1",
        correlation_id=recorded_run.correlation_id,
        causation_id=submitted.id,
    )
    await store.append([late], expected_version=None)
    r = await mh("trace", recorded_run.correlation_id)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith(
        f"trace {recorded_run.correlation_id}: {len(recorded_run.envelopes)} events"
    )
    assert "services actuator, gateway, planner" in lines[0]
    assert lines[1].startswith("#2 TaskSubmitted [gateway] task/t-1 t+0.0 ms")
    assert any("└── " in line and "TaskCancelRequested" in line for line in lines)
    assert any("ActionExecuted [actuator]" in line and "after cause" in line for line in lines)
    unknown = await mh("trace", "nope")
    assert unknown.code == 1

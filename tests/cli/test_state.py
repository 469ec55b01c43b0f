"""`mh state`: an aggregate folded up to a sequence or a time (the generic fold)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from macrohard.eventlog.reader import parse_nats_time
from tests.cli.conftest import MhRunner, RecordedRun


async def test_state_at_a_sequence_is_the_fold_up_to_there(
    mh: MhRunner, recorded_run: RecordedRun
) -> None:
    head = json.loads((await mh("state", "task", "t-1", "--json")).out)
    assert head["last_type"] == "TaskCompleted"
    assert head["fields"]["result"] == "signed in"
    assert head["by_type"]["IntentEmitted"]["step"] == 3
    at = recorded_run.seq_of("IntentEmitted", 1)  # step 2 decided, nothing after
    past = json.loads((await mh("state", "task", "t-1", "--at", str(at), "--json")).out)
    assert past["version"] == at
    assert past["last_type"] == "IntentEmitted"
    assert past["fields"]["intent"]["action"] == "click"
    assert "result" not in past["fields"]
    assert [h["type"] for h in past["history"]][-2:] == ["InferenceCompleted", "IntentEmitted"]


async def test_state_at_a_time_uses_when_the_log_stored_each_event(
    mh: MhRunner, recorded_run: RecordedRun
) -> None:
    head = json.loads((await mh("state", "browser", "b-t-1", "--tenant", "acme", "--json")).out)
    stamps = [parse_nats_time(h["stored_at"]) for h in head["history"]]
    cut = stamps[2] + (stamps[3] - stamps[2]) / 2
    if stamps[2] == stamps[3]:
        pytest.skip("two events stored in the same microsecond")
    past = json.loads(
        (await mh("state", "browser", "b-t-1", "--at", cut.isoformat(), "--json")).out
    )
    assert len(past["history"]) == 3
    before = await mh(
        "state", "browser", "b-t-1", "--at", (stamps[0] - timedelta(seconds=1)).isoformat()
    )
    assert before.code == 1

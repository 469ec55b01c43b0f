"""`mh task replay`: every recorded step, and `--live` against a real Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.browser import PageElement, PageObservation, PageObserved
from macrohard.contracts.envelope import Envelope, Event
from macrohard.contracts.tasks import TaskCompleted, TaskSubmitted
from macrohard.contracts.tenancy import TenantOnboarded
from macrohard.devkit.pages import LocalSite, fixed_pages
from macrohard.eventlog.store import EventStore
from tests.cli.conftest import SCREENSHOT, MhRunner, RecordedRun


async def test_task_replay_prints_each_recorded_step(
    mh: MhRunner, recorded_run: RecordedRun, tmp_path: Path
) -> None:
    shots = tmp_path / "shots"
    (shots / SCREENSHOT[:2]).mkdir(parents=True)
    (shots / SCREENSHOT[:2] / SCREENSHOT).write_bytes(b"\x89PNG")
    r = await mh("task", "replay", "t-1", "--screenshots", str(shots))
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "task t-1: 'sign in as ops'"
    assert "TaskCompleted" in lines[1] and "result=signed in" in lines[1]
    steps = [line for line in lines if line.startswith("step ")]
    assert [s.split()[1] for s in steps] == ["1", "2", "3"]
    text = "\n".join(lines)
    assert (
        "decided type element 2 [textbox \"Email\"] text='ops@acme.test' — fill the email" in text
    )
    assert 'decided click element 3 [button "Continue"]' in text
    assert "did     type ok in 41 ms" in text
    assert "model   planner-minilm on car-1 in 12 ms" in text or "in 13 ms" in text
    assert f'then    https://app.acme.test/home "Home" (1 elements) screenshot {shots}' in text
    assert 'saw     https://app.acme.test/login "Sign in" (3 elements)' in text
    doc = json.loads((await mh("task", "replay", "t-1", "--json")).out)
    assert [s["intent"]["action"] for s in doc["steps"]] == ["type", "click", "done"]
    assert doc["steps"][1]["target"]["name"] == "Continue"
    assert (await mh("task", "replay", "t-404")).code == 1


PAGES = {
    "/": b"<title>Start</title><a href='/form'>Open the form</a>",
    "/form": b"<title>Form</title><label>Name <input name=n></label>"
    b"<button onclick=\"document.title='Sent '+document.querySelector('input').value\">"
    b"Send</button>",
}


@pytest.fixture
def site() -> Iterator[str]:
    with LocalSite(fixed_pages(PAGES)) as server:
        yield server.base


async def test_live_rerun_replays_intents_in_chromium_next_to_the_recording(
    mh: MhRunner, store: EventStore, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The re-run browses through the actuator's guard: local pages need local test mode,
    # and the tenant must be known (no domain limit here).
    monkeypatch.setenv("MH_LOCAL_TEST_MODE", "1")
    acme = TenantOnboarded(
        tenant_id="acme", name="Acme", plan="std", allowed_domains=[], monthly_budget="1"
    )
    await store.append([envelope(acme, tenant="acme", aggregate_id="acme")], expected_version=0)
    start = PageObservation(
        url=f"{site}/",
        title="Start",
        elements=[PageElement(id=1, role="link", name="Open the form")],
    )
    form = PageObservation(
        url=f"{site}/form",
        title="Form",
        elements=[
            PageElement(id=1, role="textbox", name="Name"),
            PageElement(id=2, role="button", name="Send"),
        ],
    )
    sent = PageObservation(url=f"{site}/form", title="Sent Ada", elements=[])
    root = envelope(
        TaskSubmitted(task_id="w", goal="send", start_url=f"{site}/"),
        tenant="acme",
        aggregate_id="w",
    )

    def follow(event: Event, aggregate_id: str) -> Envelope:
        return envelope(event, tenant="acme", aggregate_id=aggregate_id, correlation_id=root.id)

    log = [root, follow(PageObserved(task_id="w", step=0, observation=start), "b-w")]
    plan = [
        (Intent(action="click", element=1), form),
        (Intent(action="type", element=1, text="Ada"), form),
        (Intent(action="click", element=2), sent),
    ]
    for n, (intent, page) in enumerate(plan, start=1):
        log.append(follow(IntentEmitted(task_id="w", step=n, intent=intent), "w"))
        log.append(follow(PageObserved(task_id="w", step=n, observation=page), "b-w"))
    log.append(follow(TaskCompleted(task_id="w", steps=3), "w"))
    for env in log:  # one at a time, in this order: the order the agent lived it
        await store.append([env], expected_version=None)
    r = await mh("task", "replay", "w", "--live")
    assert r.code == 0, r.err
    live = r.out.split("live re-run (recorded | live):\n", 1)[1].splitlines()
    assert live[0].startswith(f'  step 1 = {site}/form "Form" | {site}/form "Form"')
    assert live[2].startswith(f'  step 3 = {site}/form "Sent Ada" | {site}/form "Sent Ada"')

"""The planner service on real NATS: redelivery, cancel, budget, a bad model, a full run.

The model runs in-process (no car node in these tests); the full run drives a real MiniWoB++
page in Chromium through the bus, with a browser-side peer playing the actuator's part.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from playwright.async_api import async_playwright

from macrohard.actuator.browser import CHROMIUM_ARGS
from macrohard.bench.miniwob_episode import CHROMIUM, PageServer, goal_of
from macrohard.bench.page_actor import PageActor
from macrohard.contracts.agent import IntentEmitted
from macrohard.contracts.billing import BudgetExhausted, BudgetRestored
from macrohard.contracts.browser import ActionExecuted, PageElement, PageObservation, PageObserved
from macrohard.contracts.envelope import Event, RecordedEvent, envelope
from macrohard.contracts.tasks import (
    TaskCancelled,
    TaskCancelRequested,
    TaskCompleted,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
)
from macrohard.eventlog import EventStore, Service, ServiceConfig
from macrohard.planner.backends import InProcessBackend, PlannerBackend
from macrohard.planner.chat import ChatBackend, ChatConfig
from macrohard.planner.handlers import Planner
from macrohard.planner.main import build
from tests.planner.conftest import ScriptedModel

PAGE = PageObservation(
    url="http://shop.test/",
    title="Shop",
    elements=[
        PageElement(id=0, role="textbox", name="Name"),
        PageElement(id=1, role="button", name="Save"),
    ],
)
GOAL = 'Enter "Ada" into the name field and click Save.'


def planner(store: EventStore, backend: PlannerBackend | None = None) -> Planner:
    chosen = backend or InProcessBackend()
    return Planner(store=lambda: store, backend=lambda: chosen)


async def append(
    store: EventStore, event: Event, aggregate_id: str, tenant: str = "acme"
) -> RecordedEvent:
    env = envelope(event, tenant=tenant, aggregate_id=aggregate_id)
    await store.append([env], expected_version=None)
    recs = await store.read_aggregate(tenant, env.aggregate_type, aggregate_id)
    return next(r for r in recs if r.envelope.id == env.id)


async def task_events(store: EventStore, task_id: str = "t1") -> list[Event]:
    return [r.payload for r in await store.read_aggregate("acme", "task", task_id)]


async def submit(store: EventStore, p: Planner, task_id: str = "t1", max_steps: int = 30) -> None:
    rec = await append(
        store,
        TaskSubmitted(
            task_id=task_id, goal=GOAL, start_url="http://shop.test/", max_steps=max_steps
        ),
        task_id,
    )
    await p.on_task_event(rec)


async def observe(
    store: EventStore, p: Planner, step: int, page: PageObservation = PAGE, task_id: str = "t1"
) -> RecordedEvent:
    await append(
        store,
        ActionExecuted(task_id=task_id, step=step, intent_event_id="x", action="click", ok=True),
        task_id,
    )
    rec = await append(store, PageObserved(task_id=task_id, step=step, observation=page), task_id)
    await p.on_page_observed(rec)
    return rec


async def test_each_decision_is_emitted_once_even_when_redelivered(store: EventStore) -> None:
    p = planner(store)
    submitted = await append(
        store, TaskSubmitted(task_id="t1", goal=GOAL, start_url="http://shop.test/"), "t1"
    )
    await p.on_task_event(submitted)
    await p.on_task_event(submitted)  # redelivery
    rec = await observe(store, p, 0)
    await p.on_page_observed(rec)  # redelivery of the page
    events = await task_events(store)
    assert [type(e).__name__ for e in events] == [
        "TaskSubmitted",
        "TaskStarted",
        "IntentEmitted",
        "IntentEmitted",
    ]
    step1 = events[-1]
    assert isinstance(step1, IntentEmitted) and step1.step == 1
    assert (step1.intent.action, step1.intent.element, step1.intent.text) == ("type", 0, "Ada")
    assert step1.element_label == "textbox 'Name'" and step1.previous_ok is True
    assert step1.backend == "in-process" and step1.page_url == "http://shop.test/"


async def test_cancel_stops_the_run_and_later_pages_are_ignored(store: EventStore) -> None:
    p = planner(store)
    await submit(store, p)
    cancel = await append(store, TaskCancelRequested(task_id="t1", reason="user"), "t1")
    await p.on_task_event(cancel)
    await observe(store, p, 0)
    events = await task_events(store)
    assert isinstance(events[-1], TaskCancelled) and events[-1].reason == "user"
    assert sum(isinstance(e, IntentEmitted) for e in events) == 1  # only the navigation


async def test_exhausted_budget_fails_the_tenants_runs_until_restored(store: EventStore) -> None:
    p = planner(store)
    await p.on_budget_event(
        await append(
            store, BudgetExhausted(tenant_id="acme", period="2026-11", spent="10", cap="10"), "acme"
        )
    )
    await submit(store, p, "t1")
    await observe(store, p, 0, task_id="t1")
    failed = (await task_events(store, "t1"))[-1]
    assert isinstance(failed, TaskFailed) and failed.reason == "budget exhausted"
    await p.on_budget_event(
        await append(store, BudgetRestored(tenant_id="acme", period="2026-11", cap="20"), "acme")
    )
    await submit(store, p, "t2")
    await observe(store, p, 0, task_id="t2")
    assert isinstance((await task_events(store, "t2"))[-1], IntentEmitted)


async def test_max_steps_ends_the_run(store: EventStore) -> None:
    p = planner(store)
    await submit(store, p, max_steps=1)
    await observe(store, p, 0)
    await observe(store, p, 1)
    last = (await task_events(store))[-1]
    assert isinstance(last, TaskFailed) and "max_steps (1)" in last.reason


async def test_a_model_that_never_answers_validly_fails_the_task_with_the_reason(
    store: EventStore, chat_server: ScriptedModel
) -> None:
    chat_server.answers = ["not json", '{"action": "teleport"}']
    backend = ChatBackend(ChatConfig(url=chat_server.url, model="m", attempts=2))
    p = planner(store, backend)
    await submit(store, p)
    await observe(store, p, 0)
    await backend.close()
    events = await task_events(store)
    assert isinstance(events[-1], TaskFailed)
    assert "no valid answer after 2 attempts" in events[-1].reason
    assert "teleport" in events[-1].reason  # what was wrong, for a person to act on


@pytest.fixture
async def planner_service(nats_url: str) -> AsyncIterator[Service]:
    service = Service(
        ServiceConfig(name="planner", nats_url=nats_url, extra={"backend": "in-process"})
    )
    build(service)
    await service.start()
    yield service
    await service.stop()


async def test_a_miniwob_task_runs_to_completion_and_reads_back_step_by_step(
    nc: NATS, store: EventStore, planner_service: Service
) -> None:
    with PageServer() as pages:
        url = pages.url("login-user", 3, 60000, tag="t1")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page()
            goal = await goal_of(page, url)
            actor = PageActor(nc, store, page, "acme", "t1")
            stop = asyncio.Event()
            acting = asyncio.create_task(actor.run(stop))
            await store.append(
                [
                    envelope(
                        TaskSubmitted(task_id="t1", goal=goal, start_url=url),
                        tenant="acme",
                        aggregate_id="t1",
                    )
                ],
                expected_version=0,
            )
            for _ in range(300):
                events = await task_events(store)
                if isinstance(events[-1], TaskCompleted | TaskFailed):
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await acting
            await browser.close()
        reward = pages.reward("t1")
    assert isinstance(events[-1], TaskCompleted), events[-1]
    assert reward is not None and reward.reward > 0  # the page itself says the work was right
    assert isinstance(events[1], TaskStarted) and events[1].backend == "in-process"
    intents = [e for e in events if isinstance(e, IntentEmitted)]
    # Read back step by step: navigate, username, password, login, done.
    assert [i.step for i in intents] == list(range(len(intents)))
    assert [i.intent.action for i in intents] == ["navigate", "type", "type", "click", "done"]
    quoted = goal.split('"')
    assert [i.intent.text for i in intents[1:3]] == [quoted[1], quoted[3]]
    assert intents[3].element_label == "button 'Login'"
    assert all(i.previous_ok for i in intents[1:])


async def test_a_miniwob_task_completes_through_the_actuator_service(
    nats_url: str, store: EventStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planner service + the real actuator service (its own Chromium, local test mode)."""
    from macrohard.actuator.main import build as build_actuator
    from macrohard.contracts.tenancy import TenantOnboarded

    monkeypatch.setenv("MH_LOCAL_TEST_MODE", "1")
    monkeypatch.setenv("MH_DATA_DIR", str(tmp_path))
    planner = Service(
        ServiceConfig(name="planner", nats_url=nats_url, extra={"backend": "in-process"})
    )
    build(planner)
    actuator = Service(ServiceConfig(name="actuator", nats_url=nats_url))
    build_actuator(actuator)
    halt = asyncio.Event()
    running = [asyncio.create_task(s.run(halt)) for s in (planner, actuator)]
    onboarded = TenantOnboarded(
        tenant_id="acme",
        name="Acme",
        plan="test",
        allowed_domains=["127.0.0.1"],
        monthly_budget="100",
    )
    await store.append(
        [envelope(onboarded, tenant="acme", aggregate_id="acme")], expected_version=0
    )
    try:
        with PageServer() as pages:
            url = pages.url("click-checkboxes", 5, 60000, tag="t9")
            async with async_playwright() as pw:
                scratch = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                goal = await goal_of(await scratch.new_page(), url)
                await scratch.close()
            submitted = TaskSubmitted(task_id="t9", goal=goal, start_url=url)
            await store.append(
                [envelope(submitted, tenant="acme", aggregate_id="t9")], expected_version=0
            )
            for _ in range(600):
                events = await task_events(store, "t9")
                if isinstance(events[-1], TaskCompleted | TaskFailed):
                    break
                await asyncio.sleep(0.05)
            reward = pages.reward("t9")
    finally:
        halt.set()
        await asyncio.gather(*running, return_exceptions=True)
    assert isinstance(events[-1], TaskCompleted), events[-1]
    assert reward is not None and reward.reward > 0
    browser = [r.payload for r in await store.read_aggregate("acme", "browser", "t9")]
    assert any(isinstance(e, PageObserved) for e in browser)  # the actuator's own observations

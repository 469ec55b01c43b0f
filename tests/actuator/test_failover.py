"""An actuator killed mid-task (kill -9): another replica takes the task over and it completes.

Both actuators are real `mh run actuator` processes on one durable consumer; the test plays
the planner with a scripted plan that reads each observation to pick the next element.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from macrohard.actuator.browser import BrowserPool
from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import ActionExecuted, ActionStarted, SessionClosed, SessionOpened
from macrohard.contracts.envelope import envelope
from tests.actuator.conftest import (
    TENANT,
    Replica,
    Running,
    SealingKeys,
    actuator_running,
    element,
    wait_result,
)
from tests.actuator.site import Site


async def test_a_killed_actuator_is_replaced_and_the_task_completes(
    nats_url: str, store, site: Site, tmp_path: Path, replicas: dict[str, Replica]
) -> None:
    driver = Running(None, store, None, SealingKeys())  # type: ignore[arg-type]
    await driver.onboard(["127.0.0.1"])
    await driver.submit("t-kill", site.url("/form"))
    replicas["a"] = Replica(nats_url, "act-a", tmp_path)

    first_id = await driver.intend("t-kill", 1, Intent(action="navigate", url=site.url("/form")))
    _, first = await wait_result(store, "t-kill", first_id, timeout=60)  # includes start-up
    name = element(first, "Name", "textbox")
    done, _ = await driver.step("t-kill", 2, Intent(action="type", element=name, text="Grace"))
    assert done is not None and done.ok

    # Step 3 waits for text that never comes: the replica is busy with it when killed.
    stuck = await driver.intend("t-kill", 3, Intent(action="wait_for", text="Never shown"))
    await asyncio.sleep(1.0)
    replicas["a"].kill()
    replicas["b"] = Replica(nats_url, "act-b", tmp_path)

    done, fresh = await wait_result(store, "t-kill", stuck, timeout=60)
    # It was started when the replica died. A wait has no effect to repeat or to be unsure
    # of (effect_free): on the reloaded page it is reported as not done, to decide again.
    assert done is not None and not done.ok and not done.outcome_unknown
    assert fresh.observation.url == site.url("/form")
    # A fresh context: what was typed before the crash is gone, and the plan goes on from
    # what this observation shows.
    assert next(e for e in fresh.observation.elements if e.name == "Name").value == ""
    name = element(fresh, "Name", "textbox")
    for step, intent in enumerate(
        [
            Intent(action="type", element=name, text="Grace"),
            Intent(action="click", element=element(fresh, "Submit")),
        ],
        start=4,
    ):
        done, last = await driver.step("t-kill", step, intent)
        assert done is not None and done.ok
    assert any(e.text.startswith("Submitted: name=Grace,") for e in last.observation.elements)
    done, _ = await driver.step("t-kill", 6, Intent(action="done"))
    assert done is not None and done.ok

    events = [r.payload for r in await store.read_aggregate(TENANT, "browser", "t-kill")]
    opened = [e for e in events if isinstance(e, SessionOpened)]
    assert [(o.worker, o.restored_from) for o in opened] == [
        ("act-a", ""),
        ("act-b", "act-a"),
    ]
    assert opened[1].url == site.url("/form")
    assert isinstance(events[-1], SessionClosed)
    actions = [e for e in events if isinstance(e, ActionExecuted)]
    assert [a.step for a in actions] == [1, 2, 3, 4, 5, 6]  # step 3 once, by the survivor


async def test_a_crash_right_after_a_click_does_not_repeat_it(
    nats_url: str, store, site: Site, tmp_path: Path, replicas: dict[str, Replica]
) -> None:
    driver = Running(None, store, None, SealingKeys())  # type: ignore[arg-type]
    await driver.onboard(["127.0.0.1"])
    await driver.submit("t-order", site.url("/order"))
    replicas["a"] = Replica(nats_url, "act-a", tmp_path)
    first_id = await driver.intend("t-order", 1, Intent(action="navigate", url=site.url("/order")))
    _, page = await wait_result(store, "t-order", first_id, timeout=60)
    name = element(page, "Your name", "textbox")
    done, page = await driver.step("t-order", 2, Intent(action="type", element=name, text="Ada"))
    assert done is not None and done.ok
    replicas["b"] = Replica(nats_url, "act-b", tmp_path)
    # The order reaches the site, and the replica that clicked dies before it hears back.
    site.on_order = replicas["a"].kill
    order = Intent(action="click", element=element(page, "Place order"))
    click = await driver.intend("t-order", 3, order)

    done, after = await wait_result(store, "t-order", click, timeout=60)
    assert done is not None and done.outcome_unknown and not done.ok
    assert after.observation.url == site.url("/order")  # the survivor re-observed, nothing more
    assert site.orders == [{"who": ["Ada"]}]
    events = [r.payload for r in await store.read_aggregate(TENANT, "browser", "t-order")]
    assert sum(isinstance(e, ActionStarted) and e.step == 3 for e in events) == 1
    assert sum(isinstance(e, ActionExecuted) and e.step == 3 for e in events) == 1


async def test_a_crash_mid_navigation_navigates_again(
    nats_url: str, store, site: Site, tmp_path: Path, replicas: dict[str, Replica]
) -> None:
    driver = Running(None, store, None, SealingKeys())  # type: ignore[arg-type]
    await driver.onboard(["127.0.0.1"])
    await driver.submit("t-land", site.url("/order"))
    replicas["a"] = Replica(nats_url, "act-a", tmp_path)
    first_id = await driver.intend("t-land", 1, Intent(action="navigate", url=site.url("/order")))
    await wait_result(store, "t-land", first_id, timeout=60)
    replicas["b"] = Replica(nats_url, "act-b", tmp_path)
    # The replica navigating dies once the GET has reached the site, before the page came.
    site.on_landing = replicas["a"].kill
    try:
        go = await driver.intend("t-land", 2, Intent(action="navigate", url=site.url("/landing")))
        done, after = await wait_result(store, "t-land", go, timeout=60)
    finally:
        site.on_landing = lambda: None
    # A navigation is a GET: the survivor did it again, and the run goes on from its page
    # (it used to be reported as an effect of unknown outcome, and the task failed).
    assert done is not None and done.ok and not done.outcome_unknown
    assert after.observation.url == site.url("/landing")
    assert site.landings == 2
    events = [r.payload for r in await store.read_aggregate(TENANT, "browser", "t-land")]
    assert sum(isinstance(e, ActionStarted) and e.step == 2 for e in events) == 1
    assert sum(isinstance(e, ActionExecuted) and e.step == 2 for e in events) == 1
    opened = [e for e in events if isinstance(e, SessionOpened)]
    assert [(o.worker, o.restored_from) for o in opened] == [("act-a", ""), ("act-b", "act-a")]


async def test_a_navigation_whose_observation_died_with_its_holder_is_observed_on_its_page(
    nats_url: str, store, site: Site, tmp_path: Path, replicas: dict[str, Replica]
) -> None:
    """The holder navigated and recorded it, then died before its observation landed: the
    survivor opens the page (it used to observe a blank one, and the model found nothing)."""
    driver = Running(None, store, None, SealingKeys())  # type: ignore[arg-type]
    await driver.onboard(["127.0.0.1"])
    await driver.submit("t-seen", site.url("/order"))
    go = await driver.intend("t-seen", 1, Intent(action="navigate", url=site.url("/order")))
    gone = [
        SessionOpened(task_id="t-seen", worker="act-gone"),
        ActionStarted(task_id="t-seen", step=1, intent_event_id=go, action="navigate"),
        ActionExecuted(task_id="t-seen", step=1, intent_event_id=go, action="navigate", ok=True),
    ]
    await store.append(
        [envelope(e, tenant=TENANT, aggregate_id="t-seen") for e in gone], expected_version=None
    )
    replicas["b"] = Replica(nats_url, "act-b", tmp_path)

    done, seen = await wait_result(store, "t-seen", go, timeout=60)
    assert done is not None and done.ok  # the holder's, not done again
    assert seen.observation.url == site.url("/order")
    assert element(seen, "Place order")
    events = [r.payload for r in await store.read_aggregate(TENANT, "browser", "t-seen")]
    assert sum(isinstance(e, ActionExecuted) for e in events) == 1
    opened = [e for e in events if isinstance(e, SessionOpened)]
    assert [(o.worker, o.restored_from) for o in opened] == [
        ("act-gone", ""),
        ("act-b", "act-gone"),
    ]


async def test_replicas_share_the_consumer_and_forward_to_the_holder(
    nats_url: str, nc, running: Running, site: Site, tmp_path: Path
) -> None:
    second_pool = BrowserPool(local_test_mode=True)
    try:
        async with actuator_running(nats_url, nc, second_pool, tmp_path / "b") as other:
            await running.onboard(["127.0.0.1"])
            await running.submit("t-two", site.url("/form"))
            _, obs = await running.step(
                "t-two", 1, Intent(action="navigate", url=site.url("/form"))
            )
            count = element(obs, "Count")
            for step in range(2, 10):
                done, obs = await running.step("t-two", step, Intent(action="click", element=count))
                assert done is not None and done.ok
            assert any(e.text == "Clicks: 8" for e in obs.observation.elements)
            events = await running.store.read_aggregate(TENANT, "browser", "t-two")
            opened = [r.payload for r in events if isinstance(r.payload, SessionOpened)]
            assert len(opened) == 1  # one context for the whole task, no takeover
            actuators = [running.actuator, other.actuator]
            assert all(a.delivered for a in actuators)  # the consumer spread the intents
            assert sum(a.forwarded for a in actuators) >= 1
            assert sum(a.taken_over for a in actuators) == 0
    finally:
        await second_pool.stop()

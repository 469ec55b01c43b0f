"""The write-ahead record of a click's effects, on real Chromium, NATS and `mh run actuator`.

A request that can carry an effect waits in the route until its ActionReachedSite is in the
log; so an actuator killed mid-click leaves a log that says whether the site got anything.
The site's own record (`Site.orders`) is the judge of how many submits there were.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import (
    ActionExecuted,
    ActionLanded,
    ActionReachedSite,
    ActionStarted,
)
from macrohard.contracts.envelope import Event
from macrohard.eventlog.store import EventStore
from tests.actuator.conftest import (
    TENANT,
    Replica,
    Running,
    SealingKeys,
    element,
    wait_result,
)
from tests.actuator.site import Site


async def events_of(store: EventStore, task_id: str) -> list[Event]:
    return [r.payload for r in await store.read_aggregate(TENANT, "browser", task_id)]


async def wait_for_record(
    store: EventStore, task_id: str, kind: type[Event], intent_id: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(
            isinstance(e, kind) and getattr(e, "intent_event_id", "") == intent_id
            for e in await events_of(store, task_id)
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {kind.__name__} for {intent_id} within {timeout} s")


def records(events: list[Event], step: int) -> list[Event]:
    return [
        e
        for e in events
        if isinstance(e, ActionReachedSite | ActionLanded) and getattr(e, "step", -1) == step
    ]


async def typed_on_a_with_b_standing_by(
    store: EventStore,
    site: Site,
    tmp_path: Path,
    replicas: dict[str, Replica],
    nats_url: str,
    task: str,
    path: str,
    button: str,
) -> tuple[Running, str]:
    """A task on replica a with "Ada" typed into the page at `path`, replica b standing by to
    take it over, and the click on `button` intended (its intent id is returned)."""
    driver = Running(None, store, None, SealingKeys())  # type: ignore[arg-type]
    await driver.onboard(["127.0.0.1"])
    site.orders.clear()
    await driver.submit(task, site.url(path))
    replicas["a"] = Replica(nats_url, "act-a", tmp_path)
    first = await driver.intend(task, 1, Intent(action="navigate", url=site.url(path)))
    _, page = await wait_result(store, task, first, timeout=60)
    who = element(page, "Your name", "textbox")
    done, page = await driver.step(task, 2, Intent(action="type", element=who, text="Ada"))
    assert done is not None and done.ok
    replicas["b"] = Replica(nats_url, "act-b", tmp_path)
    click = await driver.intend(task, 3, Intent(action="click", element=element(page, button)))
    return driver, click  # fmt: skip


async def test_a_click_killed_before_its_post_left_is_done_again_and_submits_once(
    nats_url: str, store: EventStore, site: Site, tmp_path: Path, replicas: dict[str, Replica]
) -> None:
    site.think_ms = 3000  # the button blocks its page this long before the form posts
    driver, click = await typed_on_a_with_b_standing_by(
        store, site, tmp_path, replicas, nats_url, "t-unsent", "/slow-order", "Place order"
    )
    await wait_for_record(store, "t-unsent", ActionStarted, click)
    await asyncio.sleep(0.5)  # inside the button's handler: the form has not posted
    replicas["a"].kill()
    site.think_ms = 0

    done, after = await wait_result(store, "t-unsent", click, timeout=60)
    # Nothing that can carry an effect left the browser: not done, and the outcome is known.
    assert done is not None and not done.ok and not done.outcome_unknown
    assert "before anything it did reached the site" in done.error
    assert site.orders == []
    assert records(await events_of(store, "t-unsent"), 3) == []
    # The takeover's page is a reload: what was typed is gone, so it is typed again.
    who = element(after, "Your name", "textbox")
    assert next(e for e in after.observation.elements if e.id == who).value == ""
    done, _ = await driver.step("t-unsent", 4, Intent(action="type", element=who, text="Ada"))
    assert done is not None and done.ok
    done, last = await driver.step(
        "t-unsent", 5, Intent(action="click", element=element(after, "Place order"))
    )
    assert done is not None and done.ok
    assert any(e.text == "Order received." for e in last.observation.elements)
    done, _ = await driver.step("t-unsent", 6, Intent(action="done"))
    assert done is not None and done.ok

    assert site.orders == [{"who": ["Ada"]}]  # exactly one submit, with the right value
    events = await events_of(store, "t-unsent")
    kept = records(events, 5)
    assert [type(e) for e in kept] == [ActionReachedSite, ActionLanded]
    assert isinstance(kept[0], ActionReachedSite) and kept[0].method == "POST"
    assert kept[0].url == site.url("/submit")
    assert isinstance(kept[1], ActionLanded) and kept[1].url == site.url("/thanks")
    assert sum(isinstance(e, ActionExecuted) and e.step == 3 for e in events) == 1


async def test_a_click_killed_after_its_order_was_answered_opens_where_it_landed(
    nats_url: str, store: EventStore, site: Site, tmp_path: Path, replicas: dict[str, Replica]
) -> None:
    site.think_ms = 4000  # after its order is answered, the page is busy this long
    driver, click = await typed_on_a_with_b_standing_by(
        store, site, tmp_path, replicas, nats_url, "t-landed", "/xhr-order", "Send order"
    )
    await wait_for_record(store, "t-landed", ActionLanded, click)
    replicas["a"].kill()  # still inside the click: no ActionExecuted yet

    done, after = await wait_result(store, "t-landed", click, timeout=60)
    # It reached the site and was answered: done, and the survivor shows the page it led to.
    assert done is not None and done.ok and done.recovered and not done.outcome_unknown
    assert after.observation.url == site.url("/xhr-order")
    assert any(e.text == "Orders received: 1" for e in after.observation.elements)
    assert site.orders == [{"who": ["Ada"]}]
    done, _ = await driver.step("t-landed", 4, Intent(action="done"))
    assert done is not None and done.ok
    events = await events_of(store, "t-landed")
    kept = records(events, 3)
    assert [type(e) for e in kept] == [ActionReachedSite, ActionLanded]
    assert isinstance(kept[0], ActionReachedSite) and kept[0].url == site.url("/submit-xhr")
    assert sum(isinstance(e, ActionExecuted) and e.step == 3 for e in events) == 1


async def test_the_hold_adds_nothing_to_get_only_actions(running: Running, site: Site) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-get", site.url("/form"))
    _, page = await running.step("t-get", 1, Intent(action="navigate", url=site.url("/form")))
    before = site.hits.count("/next")
    done, after = await running.step(
        "t-get", 2, Intent(action="click", element=element(page, "Next page"))
    )
    assert done is not None and done.ok
    assert after.observation.url == site.url("/next")
    assert site.hits.count("/next") == before + 1
    # A link is a GET: nothing was held, nothing recorded.
    assert records(await events_of(running.store, "t-get"), 2) == []

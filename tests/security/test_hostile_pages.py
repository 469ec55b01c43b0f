"""Point 6: a hostile page costs its own task a deadline, and nobody else anything.

A page that spins (`while(1){}`) never answers Playwright again. The actuator must cut that
task's step at its deadline, recycle its context, tell the planner, and meanwhile keep
carrying out every other tenant's intents as if nothing happened."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.browser import PageObserved, SessionOpened
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.contracts.tenancy import TenantOnboarded
from macrohard.eventlog.store import EventStore
from tests.actuator.conftest import Running
from tests.actuator.site import Site
from tests.security.conftest import DEADLINE_S

SPIN = "<title>Spin</title><script>while (true) {}</script>"


async def start_task(store: EventStore, tenant: str, task_id: str, url: str) -> str:
    """Onboard-free: a task and its first intent, as the gateway and planner append them."""
    submitted = TaskSubmitted(task_id=task_id, goal="look", start_url=url)
    await store.append(
        [envelope(submitted, tenant=tenant, aggregate_id=task_id)], expected_version=0
    )
    return await intend(store, tenant, task_id, 1, Intent(action="navigate", url=url))


async def intend(store: EventStore, tenant: str, task_id: str, step: int, intent: Intent) -> str:
    env = envelope(
        IntentEmitted(task_id=task_id, step=step, intent=intent),
        tenant=tenant,
        aggregate_id=task_id,
    )
    await store.append([env], expected_version=None)
    return env.id


async def observed(store: EventStore, tenant: str, task_id: str, intent_id: str) -> PageObserved:
    while True:
        for rec in await store.read_aggregate(tenant, "browser", task_id):
            if isinstance(rec.payload, PageObserved) and rec.payload.intent_event_id == intent_id:
                return rec.payload
        await asyncio.sleep(0.05)


async def test_a_spinning_page_does_not_delay_another_tenants_task(
    actuator: Running, site: Site
) -> None:
    store = actuator.store
    for tenant in ("mallory", "acme"):
        onboarded = TenantOnboarded(
            tenant_id=tenant, name=tenant, plan="std", allowed_domains=[], monthly_budget="1"
        )
        await store.append(
            [envelope(onboarded, tenant=tenant, aggregate_id=tenant)], expected_version=None
        )
    hostile = await start_task(store, "mallory", "spin", site.url("/probe?html=" + quote(SPIN)))
    await asyncio.sleep(0.5)  # the spinning page is loading and hangs from here on
    began = time.monotonic()
    honest = await start_task(store, "acme", "honest", site.url("/next"))
    page = await asyncio.wait_for(observed(store, "acme", "honest", honest), DEADLINE_S * 3)
    honest_s = time.monotonic() - began
    assert page.observation.title == "Next"
    spun = await asyncio.wait_for(observed(store, "mallory", "spin", hostile), DEADLINE_S * 3)
    spin_s = time.monotonic() - began
    # The honest task did not wait for the hostile one's deadline; the hostile one was cut.
    assert honest_s < DEADLINE_S, (honest_s, spin_s)
    assert "stopped responding" in spun.observation.title
    assert spun.observation.elements == []
    # Not a page to decide on, and it says so: the planner opens it again (recovery.py).
    assert "did not answer when reopened" in spun.error
    # The recycled task goes on: its next intent gets a fresh context that answers.
    again = await intend(
        store, "mallory", "spin", 2, Intent(action="navigate", url=site.url("/next"))
    )
    after = await asyncio.wait_for(observed(store, "mallory", "spin", again), DEADLINE_S * 3)
    assert after.observation.title == "Next"


async def test_a_page_that_stalled_once_is_reopened_as_a_takeover(
    actuator: Running, site: Site
) -> None:
    """A renderer that stalls once (a loaded machine) does not leave the planner an empty
    page to fail on: the reset context reopens the page once, as a takeover."""
    store = actuator.store
    onboarded = TenantOnboarded(
        tenant_id="acme", name="acme", plan="std", allowed_domains=[], monthly_budget="1"
    )
    await store.append(
        [envelope(onboarded, tenant="acme", aggregate_id="acme")], expected_version=None
    )
    intent = await start_task(store, "acme", "stall", site.url("/stall-once?k=stall"))
    page = await asyncio.wait_for(observed(store, "acme", "stall", intent), DEADLINE_S * 4)
    assert page.observation.title == "Answered"
    assert page.observation.elements
    opened = [
        r.payload
        for r in await store.read_aggregate("acme", "browser", "stall")
        if isinstance(r.payload, SessionOpened)
    ]
    # Reopened as a takeover: the planner assumes nothing typed on the old page still holds.
    assert len(opened) == 2 and opened[1].restored_from

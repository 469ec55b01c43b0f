"""The console driven in real Chromium against the real platform (`mh up`).

A tenant signs in, submits a task on a local page and watches it complete live (SSE, no
reload) with each step's screenshot; follows its invoice to a line and the line to its
events. A second tenant gets 404 for the first one's task, screenshots and events. An
operator watches a car change state when it unparks, reads the log, a trace, a replay, the
dead letters, projection lag and tenants. CSRF and missing sessions are refused.
Every page is written to out/console/*.png.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import nats
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from macrohard.devkit.demo import GOAL
from macrohard.node_agent.public import NodeAgent, NodeIdentity
from tests.console.conftest import Platform, artifact, onboard

pytestmark = pytest.mark.timeout(600)

# What the tenant journey leaves for the later tests (they run in file order).
FIRST: dict[str, Any] = {}


async def sign_in(
    browser: Browser, platform: Platform, credential: str
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(
        base_url=platform.url, viewport={"width": 1360, "height": 900}
    )
    page = await context.new_page()
    await page.goto("/console/tasks")
    await expect(page).to_have_url(re.compile(r"/console/login$"))  # no session: sign in first
    await page.fill("#credential", credential)
    await page.keyboard.press("Enter")  # keyboard only
    await page.wait_for_url(re.compile(r"/console/(tasks|fleet)$"))
    return context, page


async def test_tenant_submits_watches_live_and_follows_invoice_to_events(
    platform: Platform, browser: Browser, webhook_receiver: str
) -> None:
    tenant = onboard(platform, "Acme Corp")
    context, page = await sign_in(browser, platform, tenant["api_key"])
    cookie = next(c for c in await context.cookies() if c["name"] == "mh_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert tenant["api_key"] not in cookie["value"]  # sealed, not merely encoded
    await page.screenshot(path=artifact("tasks-empty.png"), full_page=True)

    await page.fill("#goal", GOAL)
    await page.fill("#start_url", platform.site)
    await page.fill("#webhook_url", webhook_receiver)
    await page.fill("#max_steps", "15")
    await page.click("button:has-text('Submit task')")
    await page.wait_for_url(re.compile(r"/console/tasks/[0-9a-f-]{36}$"))
    task_id = page.url.rsplit("/", 1)[1]
    # A marker that a reload would wipe: the page must update itself.
    await page.evaluate("window.__stayed = true")
    await expect(page.locator("#task-status")).to_have_text("completed", timeout=240_000)
    await expect(page.locator("#task-body")).to_have_attribute("data-final", "1")
    assert await page.evaluate("window.__stayed === true"), "the page reloaded instead of live"
    steps = page.locator("li.step:not(.final)")
    count = await steps.count()
    assert count >= 4, f"only {count} steps shown"
    for i in range(count):
        img = steps.nth(i).locator("img")
        await expect(img).to_be_visible()
        await img.scroll_into_view_if_needed()
        await page.wait_for_function("img => img.complete && img.naturalWidth > 100",
                                     arg=await img.element_handle())  # fmt: skip
    shots = await page.locator("li.step img").evaluate_all("els => els.map(e => e.src)")
    await expect(page.locator("li.step").first).to_contain_text("navigate")
    await expect(page.locator("li.step").nth(1)).to_contain_text("Ada Lovelace")
    await expect(page.locator("li.step .chip").first).to_contain_text("car-1")  # the model call
    await page.screenshot(path=artifact("task-completed.png"), full_page=True)

    # The task list shows it, with its status.
    await page.goto("/console/tasks")
    await expect(page.locator("#task-rows")).to_contain_text("completed")
    await page.screenshot(path=artifact("tasks.png"), full_page=True)

    # Usage and the invoice: billing rates the run asynchronously, so reload until it shows.
    await page.goto("/console/usage")
    invoice_link = page.locator("a[href^='/console/invoices/']").first
    for _ in range(60):
        if await invoice_link.count():
            break
        await page.wait_for_timeout(1000)
        await page.reload()
    await expect(page.locator("#usage-chart canvas").first).to_be_visible()
    await page.screenshot(path=artifact("usage.png"), full_page=True)
    await invoice_link.click()
    await expect(page.locator("h1")).to_contain_text("Invoice")
    await page.screenshot(path=artifact("invoice.png"), full_page=True)
    line = page.locator("a[href*='/lines/']", has_text="actions")
    await line.click()
    await expect(page.locator("h1")).to_contain_text("actions")
    rows = page.locator("table.list tbody tr")
    assert await rows.count() >= 4  # one ActionExecuted per step
    await page.screenshot(path=artifact("invoice-line.png"), full_page=True)
    first_event = rows.first.locator("a")
    seq = (await first_event.inner_text()).lstrip("#")
    await first_event.click()
    await expect(page.locator("h1")).to_contain_text(f"ActionExecuted #{seq}")
    await expect(page.locator("pre.json")).to_contain_text(task_id)
    await page.screenshot(path=artifact("event.png"), full_page=True)

    # The webhook: refused once, delivered on the retry (1 s later), both tries shown.
    await page.goto("/console/webhooks")
    # Wait for the refused delivery itself (the page shows the latest first; another event's
    # delivery may be done while the refused one still waits for its retry): reload until the
    # first delivery shown has both of its tries.
    delivery = page.locator(".delivery").first
    for _ in range(60):
        first = delivery.locator(".status").first
        if (
            await delivery.count()
            and (await first.inner_text()).strip() == "delivered"
            and await delivery.locator("tbody tr").count() == 2
        ):
            break
        await page.wait_for_timeout(1000)
        await page.reload()
    await expect(delivery.locator(".status").first).to_have_text("delivered")
    await expect(delivery.locator("tbody tr")).to_have_count(2)
    await expect(delivery.locator("tbody tr").first).to_contain_text("503")
    await expect(delivery.locator("tbody tr").nth(1)).to_contain_text("204")
    await expect(delivery.locator("tbody tr").first).to_contain_text("t=")
    await page.screenshot(path=artifact("webhooks.png"), full_page=True)

    FIRST.update(task_id=task_id, shots=shots, event_seq=seq, tenant=tenant["tenant_id"])
    await context.close()


async def test_second_tenant_gets_404_for_the_first_tenants_task(
    platform: Platform, browser: Browser
) -> None:
    assert FIRST, "needs the tenant journey"
    other = onboard(platform, "Globex")
    context, page = await sign_in(browser, platform, other["api_key"])
    reply = await page.goto(f"/console/tasks/{FIRST['task_id']}")
    assert reply is not None and reply.status == 404
    await page.screenshot(path=artifact("not-found.png"), full_page=True)
    for url in [
        *FIRST["shots"],
        f"{platform.url}/console/tasks/{FIRST['task_id']}/body",
        f"{platform.url}/console/tasks/{FIRST['task_id']}/events",
        f"{platform.url}/console/events/{FIRST['event_seq']}",
    ]:
        assert (await context.request.get(url)).status == 404, url
    # A screenshot hash is not a capability: under the other tenant's own (missing) task, 404.
    sha = FIRST["shots"][0].rsplit("/", 1)[1]
    assert (
        await context.request.get(f"/console/tasks/{FIRST['task_id']}x/screenshots/{sha}")
    ).status == 404
    await context.close()


async def test_csrf_and_missing_session_are_refused(platform: Platform, browser: Browser) -> None:
    assert FIRST, "needs the tenant journey"
    anonymous = await browser.new_context(base_url=platform.url)
    for path in ["/console/tasks/rows", FIRST["shots"][0], "/console/fleet/data"]:
        assert (await anonymous.request.get(path)).status == 401, path
    forged = await anonymous.request.post(
        "/console/tasks", form={"goal": "x", "start_url": platform.site}
    )
    assert forged.status == 401
    await anonymous.close()

    tenant = onboard(platform, "Initech")
    context, page = await sign_in(browser, platform, tenant["api_key"])
    form = {"goal": "Click the button", "start_url": platform.site}
    assert (await context.request.post("/console/tasks", form=form)).status == 403
    wrong = await context.request.post("/console/tasks", form={**form, "_csrf": "forged"})
    assert wrong.status == 403
    await page.goto("/console/tasks")
    await expect(page.locator("#task-rows")).to_contain_text("No tasks yet")  # nothing submitted
    # The sign-in form has its own token: a cross-site sign-in is refused too.
    assert (
        await anonymous_post(browser, platform, "/console/login", {"credential": tenant["api_key"]})
    ).status == 403
    # A revoked key ends its console session at once.
    await page.goto("/console/keys")
    await page.screenshot(path=artifact("keys.png"), full_page=True)
    await page.click("button:has-text('Revoke')")
    reply = await page.goto("/console/tasks")
    await expect(page).to_have_url(re.compile(r"/console/login$"))
    assert reply is not None
    await context.close()


async def anonymous_post(
    browser: Browser, platform: Platform, path: str, form: dict[str, str]
) -> Any:
    context = await browser.new_context(base_url=platform.url)
    try:
        return await context.request.post(path, form=form, max_redirects=0)
    finally:
        await context.close()


async def test_operator_sees_a_car_change_state_when_it_unparks(
    platform: Platform, browser: Browser
) -> None:
    nc = await nats.connect(platform.nats_url)
    agent = NodeAgent(
        nc,
        NodeIdentity(node_id="console-car-7", owner_account="owner-console"),
        models=["minilm"],
        heartbeat_interval_s=2.0,
    )

    async def beat() -> None:  # alive as far as the registry can tell
        while True:
            await agent.heartbeat()
            await asyncio.sleep(1.0)

    beating: asyncio.Task[None] | None = None
    try:
        await agent.register()
        await agent.park(None)
        beating = asyncio.create_task(beat())
        context, page = await sign_in(browser, platform, platform.admin_token)
        await expect(page.locator("h1")).to_have_text("Fleet")
        await page.fill("#f-owner", "console-car")
        car = page.locator("tr[data-car='console-car-7'] .status")
        await expect(car).to_have_attribute("data-state", "parked", timeout=20_000)
        await page.fill("#f-owner", "")
        await page.screenshot(path=artifact("fleet.png"), full_page=True)
        await page.fill("#f-owner", "console-car")
        await agent.unpark()
        await expect(car).to_have_attribute("data-state", "driving", timeout=20_000)
        await expect(page.locator("#fleet-counts")).to_contain_text("driving")
        await context.close()
    finally:
        if beating is not None:
            beating.cancel()
        await nc.close()


async def test_operator_reads_log_trace_replay_dlq_lag_and_tenants(
    platform: Platform, browser: Browser
) -> None:
    assert FIRST, "needs the tenant journey"
    context, page = await sign_in(browser, platform, platform.admin_token)
    await page.goto(f"/console/log?tenant={FIRST['tenant']}&aggregate=task")
    await expect(page.locator("tbody")).to_contain_text("TaskCompleted")
    await page.screenshot(path=artifact("log.png"), full_page=True)
    await page.goto(f"/console/ops/events/{FIRST['event_seq']}")
    trace = page.locator("ol.trace li")
    await expect(trace.first).to_contain_text("TaskSubmitted")
    assert await trace.count() >= 10
    await expect(page.locator("ol.trace li.here")).to_contain_text("ActionExecuted")
    await page.screenshot(path=artifact("trace.png"), full_page=True)
    await page.click("ol.trace a:has-text('replay')")
    await expect(page.locator("#task-status")).to_have_text("completed")
    await expect(page.locator("li.step img").first).to_be_visible()
    await page.goto("/console/ops/dlq")
    await expect(page.locator("h1")).to_contain_text("Dead letters")
    await page.screenshot(path=artifact("dlq.png"), full_page=True)
    await page.goto("/console/ops/projections")
    await expect(page.locator("tbody")).to_contain_text("gateway")
    await page.screenshot(path=artifact("projections.png"), full_page=True)
    await page.goto("/console/ops/tenants")
    await expect(page.locator("tbody")).to_contain_text("Acme Corp")
    await page.screenshot(path=artifact("tenants.png"), full_page=True)
    # The operator's session is not a tenant's: tenant pages send it to sign in.
    await page.goto("/console/tasks")
    await expect(page).to_have_url(re.compile(r"/console/login$"))
    await context.close()

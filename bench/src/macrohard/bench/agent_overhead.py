"""`mh bench agent-overhead`: what the platform adds around each browser step.

One fixed 20-step action sequence on a local page, done twice on the same warm Chromium:

(a) direct: a plain Playwright script. After each action it reads the page the way any
    agent loop must before deciding the next step (the same observer script and screenshot
    the actuator uses), so (a) and (b) do the same browser work.
    `direct_actions_only_s` is the same script without observing, shown for reference.
(b) platform: every step travels the bus. A *scripted planner* (below, the scripted plan
    the issue allows in place of the model) reacts to each PageObserved from the log by
    grounding the next step of the fixed plan on the observation (element by accessible
    name) and appending IntentEmitted; the actuator (`mh run actuator`, its own process)
    consumes it, checks the log for redelivery, settles, acts, observes, screenshots and
    appends ActionExecuted + PageObserved.

Prints direct_s, platform_s, ratio = platform_s / direct_s (target <= 1.3) and
overhead_ms_per_step. Browser start-up is outside both timings (both warm up first).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from macrohard.bench.report import report
from macrohard.devkit.pages import LocalSite, PageReply

TARGETS = {"ratio": "<= 1.3"}
TENANT = "bench"

PAGE = """<!doctype html><html><head><title>Sign-up</title></head><body>
<h1>Sign up</h1>
<label for=first>First name</label><input id=first>
<label for=last>Last name</label><input id=last>
<label for=email>Email</label><input id=email type=email>
<label for=city>City</label><input id=city>
<label for=country>Country</label><select id=country><option>Spain</option><option>France</option>
<option>Italy</option></select>
<label for=plan>Plan</label><select id=plan><option>Free</option><option>Pro</option></select>
<label><input type=checkbox id=news> Newsletter</label>
<label><input type=checkbox id=terms> Terms</label>
<button onclick="document.getElementById('items').textContent =
  'Items: ' + (++window.nItems)">Add item</button><span id=items>Items: 0</span>
<span title="Help text" tabindex=0>Help</span>
<div style="height:1200px"></div>
<button onclick="document.getElementById('out').textContent = 'Thank you, '
  + document.getElementById('first').value">Submit</button><p id=out></p>
<script>window.nItems = 0;</script>
</body></html>"""

# The fixed plan: (action, element by accessible name, arguments). Step 1 is the navigation.
PLAN: list[tuple[str, str | None, dict[str, Any]]] = [
    ("navigate", None, {}),
    ("type", "First name", {"text": "Ada"}),
    ("type", "Last name", {"text": "Lovelace"}),
    ("type", "Email", {"text": "ada@example.com"}),
    ("type", "City", {"text": "London"}),
    ("select", "Country", {"values": ["France"]}),
    ("select", "Plan", {"values": ["Pro"]}),
    ("check", "Newsletter", {}),
    ("check", "Terms", {}),
    ("uncheck", "Newsletter", {}),
    ("click", "Add item", {}),
    ("click", "Add item", {}),
    ("hover", "Help", {}),
    ("press", "City", {"keys": "End"}),
    ("clear", "City", {}),
    ("type", "City", {"text": "Paris"}),
    ("scroll", None, {"dy": 600}),
    ("click", "Submit", {}),
    ("wait_for", None, {"text": "Thank you, Ada"}),
    ("done", None, {}),
]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("agent-overhead", help="20 browser steps: plain Playwright vs platform")
    p.add_argument("--json", dest="json_path", type=Path, help="write the results here")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds of each (best is kept)")
    p.set_defaults(func=lambda args: asyncio.run(bench(args)))


def serve_page() -> LocalSite:
    """The benchmark's form, whatever the path."""
    return LocalSite(lambda _request: PageReply(body=PAGE)).start()


async def run_direct(browser: Any, url: str, observe: bool, shots: Path) -> float:
    """The plan as a plain Playwright script (locators by label/role, as a person writes it)."""
    from macrohard.actuator.public import Observer, ScreenshotStore

    observer = Observer(ScreenshotStore(shots))
    started = time.perf_counter()
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    for action, name, args in PLAN:
        if action == "navigate":
            await page.goto(url, wait_until="domcontentloaded")
        elif action == "scroll":
            await page.mouse.wheel(0, args["dy"])
        elif action == "wait_for":
            await page.get_by_text(args["text"]).wait_for()
        elif action != "done":
            assert name is not None
            el = page.get_by_label(name, exact=True)
            if action in ("click", "hover") and name != "Help":
                el = page.get_by_role("button", name=name, exact=True)
            elif name == "Help":
                el = page.get_by_text("Help", exact=True)
            if action == "type":
                await el.fill(args["text"])
            elif action == "clear":
                await el.fill("")
            elif action == "select":
                await el.select_option(label=args["values"])
            elif action == "press":
                await el.press(args["keys"])
            else:
                await getattr(el, action)()
        if observe:
            await observer.observe(page, [])
    elapsed = time.perf_counter() - started
    await context.close()
    return elapsed


def intent_for(step: int, observation: Any, url: str) -> Any:
    """The scripted planner's decision: step `step` of PLAN grounded on the observation."""
    from macrohard.contracts.agent import Intent

    action, name, args = PLAN[step - 1]
    if action == "navigate":
        return Intent(action="navigate", url=url)
    element = None
    if name is not None:
        element = next(e.id for e in observation.elements if name in (e.name, e.text))
    return Intent(action=action, element=element, **args)  # type: ignore[arg-type]


async def run_platform(nats_url: str, url: str, task_id: str) -> float:
    """The plan through the bus: scripted planner <-> actuator, one step per observation."""
    import nats

    from macrohard.contracts import caused_by, envelope
    from macrohard.contracts.agent import IntentEmitted
    from macrohard.contracts.browser import PageObserved
    from macrohard.contracts.envelope import RecordedEvent
    from macrohard.contracts.subjects import type_filter
    from macrohard.contracts.tasks import TaskSubmitted
    from macrohard.eventlog.consumer import ConsumerSpec
    from macrohard.eventlog.service import Service, ServiceConfig

    finished = asyncio.Event()
    planner = Service(ServiceConfig(name=f"bench-planner-{task_id}", nats_url=nats_url))

    async def on_observed(rec: RecordedEvent) -> None:
        observed = rec.payload
        assert isinstance(observed, PageObserved)
        if observed.task_id != task_id:
            return
        step = observed.step + 1
        if step > len(PLAN):
            finished.set()
            return
        # The intent's cause is the observation it was decided from (a replayable chain).
        intent = IntentEmitted(
            task_id=task_id, step=step, intent=intent_for(step, observed.observation, url)
        )
        env = caused_by(intent, rec.envelope, aggregate_id=task_id, tenant=TENANT, purpose="intent")
        await planner.store.append([env], expected_version=None)

    planner.consume(
        ConsumerSpec(
            durable=f"bench-planner-{task_id}",
            subjects=[type_filter("PageObserved", aggregate_type="browser")],
            deliver_new_only=True,
        ),
        on_observed,
    )
    await planner.start()
    nc = await nats.connect(nats_url)
    try:
        from macrohard.eventlog.store import EventStore

        store = EventStore(nc)
        submitted = TaskSubmitted(task_id=task_id, goal="sign up", start_url=url)
        await store.append(
            [envelope(submitted, tenant=TENANT, aggregate_id=task_id)], expected_version=None
        )
        started = time.perf_counter()
        first = IntentEmitted(task_id=task_id, step=1, intent=intent_for(1, None, url))
        await store.append(
            [envelope(first, tenant=TENANT, aggregate_id=task_id)], expected_version=None
        )
        await asyncio.wait_for(finished.wait(), timeout=120)
        return time.perf_counter() - started
    finally:
        await nc.close()
        await planner.stop()


def start_actuator(env: dict[str, str], tmp: Path) -> subprocess.Popen[bytes]:
    """`mh run actuator` as its own process group (so stopping it takes its Chromium too)."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "mh"), "run", "actuator"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "actuator.log").open("wb"),
        start_new_session=True,
    )


async def bench(args: argparse.Namespace) -> None:
    import nats
    from playwright.async_api import async_playwright

    from macrohard.actuator.public import CHROMIUM_ARGS, chromium_path
    from macrohard.contracts import envelope
    from macrohard.contracts.tenancy import TenantOnboarded
    from macrohard.devkit.embedded import EmbeddedNats, free_port
    from macrohard.eventlog.store import EventStore
    from macrohard.eventlog.streams import ensure_streams

    # The in-bench planner's consumer would log every message; the figures are what we want.
    logging.getLogger("faststream").setLevel(logging.WARNING)
    server = serve_page()
    url = server.url("/signup")
    with tempfile.TemporaryDirectory(prefix="mh-bench-agent-") as tmp:
        nats_server = EmbeddedNats(Path(tmp) / "nats", port=free_port()).start()
        actuator: subprocess.Popen[bytes] | None = None
        try:
            nc = await nats.connect(nats_server.url)
            await ensure_streams(nc.jetstream())
            onboarded = TenantOnboarded(
                tenant_id=TENANT,
                name=TENANT,
                plan="bench",
                allowed_domains=["127.0.0.1"],
                monthly_budget="0",
            )
            await EventStore(nc).append(
                [envelope(onboarded, tenant=TENANT, aggregate_id=TENANT)], expected_version=None
            )
            await nc.close()
            env = {
                **os.environ,
                "MH_NATS_URL": nats_server.url,
                "MH_LOCAL_TEST_MODE": "1",  # the benchmark's own page is on 127.0.0.1
                "MH_DATA_DIR": tmp,
            }
            actuator = start_actuator(env, Path(tmp))
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
                )
                shots = Path(tmp) / "direct-shots"
                # Warm-up: the actuator's browser start and first page are not what we measure.
                await run_platform(nats_server.url, url, "warmup")
                await run_direct(browser, url, True, shots)
                direct, bare, platform = [], [], []
                for r in range(args.rounds):
                    direct.append(await run_direct(browser, url, True, shots))
                    bare.append(await run_direct(browser, url, False, shots))
                    platform.append(await run_platform(nats_server.url, url, f"round-{r}"))
                await browser.close()
        finally:
            if actuator is not None and actuator.poll() is None:
                os.killpg(actuator.pid, signal.SIGTERM)
                actuator.wait(timeout=20)
            nats_server.stop()
            server.stop()
    direct_s, platform_s, bare_s = min(direct), min(platform), min(bare)
    results: dict[str, Any] = {
        "steps": len(PLAN),
        "rounds": args.rounds,
        "direct_s": round(direct_s, 4),
        "platform_s": round(platform_s, 4),
        "ratio": round(platform_s / direct_s, 3),
        "overhead_ms_per_step": round((platform_s - direct_s) * 1000 / len(PLAN), 2),
        "direct_actions_only_s": round(bare_s, 4),
        "ratio_vs_actions_only": round(platform_s / bare_s, 3),
        "all_direct_s": [round(x, 4) for x in direct],
        "all_platform_s": [round(x, 4) for x in platform],
    }
    report(
        "agent overhead: 20 browser steps, plain Playwright vs platform",
        results,
        args.json_path,
        TARGETS,
    )

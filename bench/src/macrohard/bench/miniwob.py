"""`mh bench miniwob`: MiniWoB++ tasks end to end, success rate per task.

Paths (printed with the figures, so a number is never mistaken for another path's):
- platform (default): a tenant onboarded and each episode submitted through the gateway's
  HTTP API -> TaskSubmitted -> the planner service (its real consumers, in this process) ->
  the model (in-process, or Triton on a car node with --backend triton) -> the browser side
  (the actuator service, or with --browser peer a Chromium page peer) -> PageObserved -> ...
- direct: the model called in a loop on a Chromium page (no bus): the model's own ceiling.

Pages are served locally with an injected autostart (seed, raised time limit); the reward
comes from the page's WOB_* globals when core.endEpisode runs; success = reward > 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # the episode module loads Playwright's helpers: not for `mh --help`
    from macrohard.bench.miniwob_episode import Episode

DEV_TASKS = (
    "click-button,click-button-sequence,click-checkboxes,click-checkboxes-transfer,"
    "click-collapsible,click-dialog,click-link,click-option,click-tab,click-test,click-test-2,"
    "click-widget,choose-list,enter-date,enter-password,enter-text,enter-text-dynamic,focus-text,"
    "focus-text-2,login-user,multi-orderings,navigate-tree,search-engine,email-inbox,"
    "use-autocomplete"
)
PAGE_DEFAULT_MS = 10000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from macrohard.bench.servers import add_server_args

    p = sub.add_parser("miniwob", help="MiniWoB++ tasks end to end: success per task")
    p.add_argument("--tasks", default=DEV_TASKS, help="comma-separated task names")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="episode i uses seed S+i")
    p.add_argument("--max-ms", type=int, default=60000, help="episode time limit on the page")
    p.add_argument("--max-steps", type=int, default=20)
    p.add_argument("--path", choices=["platform", "direct"], default="platform")
    p.add_argument("--backend", choices=["in-process", "triton"], default="triton")
    p.add_argument(
        "--browser",
        choices=["actuator", "peer"],
        default="actuator",
        help="browser side of the platform path: the actuator service if this "
        "checkout has one, else (or with 'peer') the Chromium page peer",
    )
    add_server_args(p)
    p.set_defaults(func=lambda args: asyncio.run(bench(args)))


async def bench(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    from macrohard.actuator.public import CHROMIUM_ARGS
    from macrohard.bench.miniwob_episode import CHROMIUM, PageServer
    from macrohard.eventlog.logs import configure_logging

    configure_logging("bench-miniwob", level="WARNING")  # JSON lines: retries show their error
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    print(f"episode time limit: {args.max_ms} ms (page default {PAGE_DEFAULT_MS} ms)")
    episodes: list[Episode] = []
    with PageServer() as pages:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                if args.path == "direct":
                    print("path: direct (model in-process on the page, no bus)")
                    episodes = await _direct(args, tasks, pages, browser)
                else:
                    episodes = await _platform(args, tasks, pages, browser)
            finally:
                await browser.close()
    _report(args, tasks, episodes)


async def _direct(
    args: argparse.Namespace, tasks: list[str], pages: Any, browser: Any
) -> list[Episode]:
    from macrohard.bench.miniwob_episode import DirectPage, goal_of
    from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide

    out: list[Episode] = []
    for task in tasks:
        for i in range(args.episodes):
            seed, tag = args.seed + i, f"{task}-{i}"
            context = await browser.new_context()
            page = await context.new_page()
            goal = await goal_of(page, pages.url(task, seed, args.max_ms, tag))
            history: list[PastStep] = []
            direct, started = DirectPage(page), time.perf_counter()
            while len(history) < args.max_steps and pages.reward(tag) is None:
                obs = await direct.observe()
                intent = decide(PlanRequest(goal=goal, observation=obs, history=history))
                if intent.action in ("done", "fail"):
                    break
                ok, error = await direct.act(intent)
                history.append(
                    PastStep(intent=intent, ok=ok, error=error, label=_label(obs, intent))
                )
            out.append(await _finish(pages, tag, task, seed, goal, len(history), started))
            _progress(out[-1])
            await context.close()
    return out


def _progress(e: Episode) -> None:
    mark = "ok  " if e.success else "MISS"
    print(
        f"{mark} {e.task} seed={e.seed} reward={e.reward:.2f} steps={e.steps} "
        f"{e.wall_s:.1f}s  {e.goal[:70]!r}",
        flush=True,
    )


def _label(obs: Any, intent: Any) -> str:
    e = next((e for e in obs.elements if e.id == intent.element), None)
    return f"{e.role} {(e.name or e.text or e.value or '')[:40]!r}" if e else ""


async def _finish(
    pages: Any, tag: str, task: str, seed: int, goal: str, steps: int, started: float
) -> Episode:
    for _ in range(20):  # the beacon is asynchronous: give it a moment to land
        if pages.reward(tag) is not None:
            break
        await asyncio.sleep(0.02)
    from macrohard.bench.miniwob_episode import Episode

    reward = pages.reward(tag)
    return Episode(
        task, seed, goal, reward.reward if reward else 0.0, steps, time.perf_counter() - started
    )


async def _platform(
    args: argparse.Namespace, tasks: list[str], pages: Any, browser: Any
) -> list[Episode]:
    from macrohard.bench.servers import bench_servers
    from macrohard.devkit.services import SERVICES
    from macrohard.eventlog import Service, ServiceConfig

    with bench_servers(args) as servers:
        started: list[Service] = []
        planner = Service(
            ServiceConfig(
                name="planner",
                nats_url=servers.nats_url,
                database_url=servers.database_url,
                extra={"backend": args.backend},
            )
        )
        _build("planner", planner, SERVICES)
        started.append(planner)
        actuator: Service | None = None
        if "actuator" in SERVICES and args.browser == "actuator":
            # The actuator refuses loopback pages outside its explicit local test mode, and
            # keeps its screenshots under MH_DATA_DIR.
            os.environ["MH_LOCAL_TEST_MODE"] = "1"
            os.environ.setdefault("MH_DATA_DIR", tempfile.mkdtemp(prefix="mh-bench-data-"))
            actuator = Service(
                ServiceConfig(
                    name="actuator", nats_url=servers.nats_url, database_url=servers.database_url
                )
            )
            _build("actuator", actuator, SERVICES)
            started.append(actuator)
        if args.backend == "triton":
            registry = Service(
                ServiceConfig(
                    name="node-registry",
                    nats_url=servers.nats_url,
                    database_url=servers.database_url,
                )
            )
            _build("node-registry", registry, SERVICES)
            started.append(registry)
        gateway = Service(
            ServiceConfig(
                name="gateway", nats_url=servers.nats_url, database_url=servers.database_url
            )
        )
        front = _gateway(gateway)
        started.append(gateway)
        # run(), not start(): a service's background tasks (the actuator's browser) start there.
        halt = asyncio.Event()
        running = [asyncio.create_task(s.run(halt)) for s in started]
        await _connected(planner)
        if args.backend == "triton":
            running.append(asyncio.create_task(_car(servers.nats_url, halt)))
            await _registered(planner.store, CAR)
        await asyncio.wait_for(front.started.wait(), 60)
        side = "actuator service" if actuator else "Chromium page peer (no actuator here)"
        print(
            f"path: platform (gateway HTTP API -> bus -> planner service, backend={args.backend}"
            f"; browser side: {side})"
        )
        try:
            async with httpx.AsyncClient(base_url=front.url, timeout=30.0) as http:
                tenant, key = await _onboard(http, "MiniWoB bench")
                return await _platform_episodes(
                    args, tasks, pages, browser, planner, actuator is None, http, tenant, key
                )
        finally:
            halt.set()
            await asyncio.gather(*running, return_exceptions=True)


CAR = "car-bench-1"


async def _car(nats_url: str, halt: asyncio.Event) -> None:
    """One parked car in this process: its Triton serves the planner model."""
    from macrohard.node_agent.public import NodeOptions, run_node

    options = NodeOptions(
        node_id=CAR,
        nats_url=nats_url,
        heartbeat_interval_s=2.0,
        model_modules=["macrohard.planner_model.minilm", "macrohard.planner_model.planner"],
    )
    await run_node(options, halt)


async def _registered(store: Any, node_id: str) -> None:
    from macrohard.contracts.subjects import PLATFORM_TENANT

    for _ in range(600):
        events = await store.read_aggregate(PLATFORM_TENANT, "node", node_id)
        if any(type(r.payload).__name__ == "NodeParked" for r in events):
            print(f"car node {node_id} registered and parked (Triton serving 'planner')")
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"car node {node_id} did not register within 60 s")


async def _connected(service: Any) -> None:
    for _ in range(500):
        try:
            service.store  # noqa: B018 - raises until the service has connected
            return
        except RuntimeError:
            await asyncio.sleep(0.02)
    raise RuntimeError("the planner service did not connect to NATS")


BENCH_ADMIN = "mh_admin_" + secrets.token_urlsafe(24)


class _Front:
    """The gateway as this bench runs it: in-process, on a free loopback port."""

    def __init__(self, gateway: Any, port: int) -> None:
        self.gateway = gateway
        self.url = f"http://127.0.0.1:{port}"

    @property
    def started(self) -> asyncio.Event:
        return self.gateway.started  # type: ignore[no-any-return]


def _gateway(service: Any) -> _Front:
    from macrohard.devkit.embedded import free_port
    from macrohard.gateway.public import Gateway, GatewaySettings, decode_master_key, new_master_key

    port = free_port()
    settings = GatewaySettings(
        admin_token=BENCH_ADMIN,
        master_key=decode_master_key(new_master_key()),
        rate_per_s=1000.0,
        rate_burst=1000.0,
    )
    gateway = Gateway(settings, port=port)
    gateway.build(service)
    return _Front(gateway, port)


async def _onboard(http: httpx.AsyncClient, name: str) -> tuple[str, str]:
    """A tenant through the API, allowed on the local page server: (tenant id, API key)."""
    r = await http.post(
        "/v1/tenants",
        headers={"Authorization": f"Bearer {BENCH_ADMIN}"},
        json={"name": name, "plan": "payg", "allowed_domains": ["127.0.0.1"],
              "monthly_budget": "10000.00"},
    )  # fmt: skip
    r.raise_for_status()
    return str(r.json()["tenant_id"]), str(r.json()["api_key"])


def _build(name: str, service: Any, services: dict[str, str]) -> None:
    import importlib

    importlib.import_module(services[name]).build(service)


async def _platform_episodes(
    args: argparse.Namespace,
    tasks: list[str],
    pages: Any,
    browser: Any,
    planner: Any,
    use_peer: bool,
    http: httpx.AsyncClient,
    tenant: str,
    key: str,
) -> list[Episode]:
    from macrohard.bench.miniwob_episode import goal_of
    from macrohard.bench.page_actor import PageActor
    from macrohard.contracts.agent import IntentEmitted
    from macrohard.contracts.envelope import envelope
    from macrohard.contracts.tasks import TaskCancelRequested
    from macrohard.planner.public import TERMINAL_EVENTS

    store, nc = planner.store, planner.nc
    scratch = await browser.new_page()
    out: list[Episode] = []
    for task in tasks:
        for i in range(args.episodes):
            seed, tag = args.seed + i, f"{task}-{i}"
            url = pages.url(task, seed, args.max_ms, tag)
            goal = await goal_of(scratch, url)
            stop, acting, context = asyncio.Event(), None, None
            t0 = time.perf_counter()
            accepted = await http.post(
                "/v1/tasks",
                headers={"Authorization": f"Bearer {key}"},
                json={"goal": goal, "start_url": url, "max_steps": args.max_steps},
            )
            accepted.raise_for_status()
            task_id = str(accepted.json()["task_id"])
            if use_peer:  # it reads the task's intents from the start of the log
                context = await browser.new_context()
                actor = PageActor(nc, store, await context.new_page(), tenant, task_id)
                acting = asyncio.create_task(actor.run(stop))
            deadline = t0 + args.max_ms / 1000 + 15
            events: list[Any] = []
            while time.perf_counter() < deadline and pages.reward(tag) is None:
                events = [r.payload for r in await store.read_aggregate(tenant, "task", task_id)]
                if any(isinstance(e, TERMINAL_EVENTS) for e in events):
                    break
                await asyncio.sleep(0.03)
            events = [r.payload for r in await store.read_aggregate(tenant, "task", task_id)]
            if not any(isinstance(e, TERMINAL_EVENTS) for e in events):
                cancel = TaskCancelRequested(task_id=task_id, reason="episode over")
                await store.append(
                    [envelope(cancel, tenant=tenant, aggregate_id=task_id)], expected_version=None
                )
            steps = sum(
                1
                for e in events
                if isinstance(e, IntentEmitted)
                and e.step > 0
                and e.intent.action not in ("done", "fail")
            )
            out.append(await _finish(pages, tag, task, seed, goal, steps, t0))
            _progress(out[-1])
            stop.set()
            if acting is not None:
                await acting
            if context is not None:
                await context.close()
    return out


def _report(args: argparse.Namespace, tasks: list[str], episodes: list[Episode]) -> None:
    from rich.console import Console
    from rich.table import Table

    from macrohard.bench.report import report

    table = Table(title=f"MiniWoB++ ({args.path} path, {args.episodes} episodes, seed {args.seed})")
    for col in ("task", "success", "mean steps", "mean wall s"):
        table.add_column(col, justify="left" if col == "task" else "right")
    per_task: dict[str, dict[str, float | int]] = {}
    for task in tasks:
        eps = [e for e in episodes if e.task == task]
        n = max(len(eps), 1)
        per_task[task] = {
            "success": sum(e.success for e in eps) / n,
            "episodes": len(eps),
            "mean_steps": sum(e.steps for e in eps) / n,
            "mean_wall_s": sum(e.wall_s for e in eps) / n,
        }
        row = per_task[task]
        table.add_row(
            task, f"{row['success']:.2f}", f"{row['mean_steps']:.1f}", f"{row['mean_wall_s']:.2f}"
        )
    Console().print(table)
    mean = sum(float(r["success"]) for r in per_task.values()) / max(len(per_task), 1)
    results: dict[str, Any] = {
        "mean_success": mean,
        "path": args.path,
        "backend": args.backend if args.path == "platform" else "in-process",
        "episode_max_ms": args.max_ms,
        "episodes_total": len(episodes),
        "tasks": per_task,
        "failures": [
            {"task": e.task, "seed": e.seed, "goal": e.goal, "reward": e.reward}
            for e in episodes
            if not e.success
        ],
    }
    report("MiniWoB++ summary", results, args.json_path, targets={"mean_success": ">= 0.90"})

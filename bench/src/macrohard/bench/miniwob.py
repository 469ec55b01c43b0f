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
import contextlib
import dataclasses
import functools
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from unittest import mock

import httpx

from macrohard.bench.miniwob_scoring import (
    Episode,
    EpisodeFailed,
    first_line,
    open_goal,
    scored,
)

PAGE_DEFAULT_MS = 10000
PAGE_LOAD_MS = 15000  # a task page not usable by then never loads


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from macrohard.bench.servers import add_server_args
    from macrohard.bench.tasklists import tasks_help

    p = sub.add_parser("miniwob", help="MiniWoB++ tasks end to end: success per task")
    p.add_argument("--tasks", default="first", help=tasks_help())
    p.add_argument("--episodes", type=int, default=10)
    add_concurrency_arg(p)
    p.add_argument("--seed", type=int, default=0, help="episode i uses seed S+i")
    p.add_argument("--max-ms", type=int, default=60000, help="episode time limit on the page")
    p.add_argument("--max-steps", type=int, default=20)
    p.add_argument(
        "--page-load-ms",
        type=int,
        default=PAGE_LOAD_MS,
        help="a task page not usable by then is a failed episode",
    )
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
    from macrohard.bench.miniwob_report import report
    from macrohard.bench.tasklists import task_list
    from macrohard.eventlog.logs import configure_logging

    configure_logging("bench-miniwob", level="WARNING")  # JSON lines: retries show their error
    tasks = task_list(args.tasks)
    print(f"episode time limit: {args.max_ms} ms (page default {PAGE_DEFAULT_MS} ms)")
    print(f"{len(tasks)} tasks x {args.episodes} episodes, {_concurrency(args)} at once")
    episodes: list[Episode] = []
    async with task_pages() as (pages, browser):
        if args.path == "direct":
            print("path: direct (model in-process on the page, no bus)")
            episodes = await _direct(args, tasks, pages, browser)
        else:
            episodes = await _platform(args, tasks, pages, browser)
    report(args, tasks, episodes)


@contextlib.asynccontextmanager
async def task_pages() -> AsyncIterator[tuple[Any, Any]]:
    """The task pages served locally, and one Chromium launched the actuator's way."""
    from playwright.async_api import async_playwright

    from macrohard.actuator.public import CHROMIUM_ARGS
    from macrohard.bench.miniwob_episode import CHROMIUM, PageServer

    with PageServer() as pages:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield pages, browser
            finally:
                await browser.close()


async def _direct(
    args: argparse.Namespace,
    tasks: list[str],
    pages: Any,
    browser: Any,
    decide: Callable[[Any], Any] | None = None,
) -> list[Episode]:
    """The model in a loop on the page; `decide` defaults to the offline planner model."""
    from macrohard.planner_model.web_planner import decide as model

    async def one(task: str, seed: int, slot: int) -> Episode:
        tag = pages.new_tag(task)
        context = await browser.new_context()
        run = functools.partial(
            _direct_episode, args, pages, context, task, seed, tag, decide or model
        )
        try:
            return await scored(task, seed, _deadline_s(args), run)
        finally:
            await context.close()

    return await run_episodes(args, tasks, one)


def add_concurrency_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--action-timeout-ms",
        type=int,
        default=5000,
        help="the actuator's per-action timeout (its default: 5000); a loaded machine "
        "loads the local task pages slower",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="episodes run at once (each in its own browser context; through the platform "
        "they are concurrent tasks of the one tenant)",
    )


def _concurrency(args: argparse.Namespace) -> int:
    return max(1, int(getattr(args, "concurrency", 1)))


async def run_episodes(
    args: argparse.Namespace,
    tasks: list[str],
    one: Callable[[str, int, int], Awaitable[Episode]],
) -> list[Episode]:
    """Every (task, seed) episode through `one(task, seed, slot)`, `--concurrency` at once
    (slot: which of the workers runs it, for per-worker resources). Results in list order;
    progress printed as each ends. `one` never raises: `scored` turns errors into failures."""
    specs = [(task, args.seed + i) for task in tasks for i in range(args.episodes)]
    out: list[Episode | None] = [None] * len(specs)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(specs)):
        queue.put_nowait(n)

    async def worker(slot: int) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            task, seed = specs[n]
            episode = await one(task, seed, slot)
            out[n] = episode
            _progress(episode)

    workers = min(_concurrency(args), max(len(specs), 1))
    await asyncio.gather(*(worker(slot) for slot in range(workers)))
    return [e for e in out if e is not None]


def _deadline_s(args: argparse.Namespace) -> float:
    """The page's own time limit, plus loading the page and the last observation."""
    return float(args.max_ms + args.page_load_ms) / 1000 + 15


async def _direct_episode(
    args: argparse.Namespace,
    pages: Any,
    context: Any,
    task: str,
    seed: int,
    tag: str,
    decide: Callable[[Any], Any],
) -> Episode:
    from macrohard.bench.miniwob_episode import DirectPage
    from macrohard.planner_model.web_planner import PastStep, PlanRequest

    page = await context.new_page()
    direct = DirectPage(page)  # before the page opens: it counts the requests from the start
    goal = await open_goal(page, pages.url(task, seed, args.max_ms, tag), args.page_load_ms)
    history: list[PastStep] = []
    started = time.perf_counter()
    reason = "the page ended the episode (its own time limit, or an answer)"
    while pages.reward(tag) is None:
        if len(history) >= args.max_steps:
            reason = f"max_steps ({args.max_steps}) reached"
            break
        obs = await direct.observe()
        try:
            intent = decide(PlanRequest(goal=goal, observation=obs, history=history))
        except Exception as exc:
            raise EpisodeFailed(f"planner error: {type(exc).__name__}: {first_line(exc)}") from exc
        if intent.action in ("done", "fail"):
            reason = f"planner said {intent.action}: {intent.reason}"[:300]
            break
        ok, error = await direct.act(intent)
        history.append(PastStep(intent=intent, ok=ok, error=error, label=_label(obs, intent)))
    return await _finish(pages, tag, task, seed, goal, len(history), started, reason)


def _progress(e: Episode) -> None:
    mark = "ok  " if e.success else "MISS"
    why = f"  reason: {e.reason}" if e.reason else ""
    print(
        f"{mark} {e.task} seed={e.seed} reward={e.reward:.2f} steps={e.steps} "
        f"{e.wall_s:.1f}s  {e.goal[:70]!r}{why}",
        flush=True,
    )


def _label(obs: Any, intent: Any) -> str:
    e = next((e for e in obs.elements if e.id == intent.element), None)
    return f"{e.role} {(e.name or e.text or e.value or '')[:40]!r}" if e else ""


async def _finish(
    pages: Any,
    tag: str,
    task: str,
    seed: int,
    goal: str,
    steps: int,
    started: float,
    reason: str,
) -> Episode:
    """The episode's score; `reason` says why, should the page give no reward."""
    for _ in range(20):  # the beacon is asynchronous: give it a moment to land
        if pages.reward(tag) is not None:
            break
        await asyncio.sleep(0.02)
    reward = pages.reward(tag)
    if reward is not None and reward.reward > 0:
        reason = ""
    elif reward is not None:
        reason = f"wrong answer (reward {reward.reward:.2f}); before that: {reason}"[:300]
    else:
        reason = f"no reward from the page; {reason}"[:300]
    return Episode(
        task,
        seed,
        goal,
        reward.reward if reward else 0.0,
        steps,
        time.perf_counter() - started,
        reason,
    )


async def _platform(
    args: argparse.Namespace,
    tasks: list[str],
    pages: Any,
    browser: Any,
    episodes: Callable[..., Awaitable[Any]] | None = None,
) -> Any:
    """The whole platform up, one tenant onboarded, then `episodes(...)` run on it (by
    default each task's episodes once: `_platform_episodes`)."""
    from macrohard.bench.servers import bench_servers
    from macrohard.devkit.services import SERVICES
    from macrohard.eventlog import Service, ServiceConfig

    # The actuator reads its local test mode and data dir from the environment: set for
    # this run only (the bench also runs inside test processes that must not inherit them).
    bench_env = {"MH_LOCAL_TEST_MODE": "1"}
    if "MH_DATA_DIR" not in os.environ:
        bench_env["MH_DATA_DIR"] = tempfile.mkdtemp(prefix="mh-bench-data-")
    with bench_servers(args) as servers, mock.patch.dict(os.environ, bench_env):
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
            # The actuator refuses loopback pages outside its explicit local test mode (set
            # above for this run), and keeps its screenshots under MH_DATA_DIR.
            timeout_ms = str(getattr(args, "action_timeout_ms", 5000))
            actuator = Service(
                ServiceConfig(
                    name="actuator",
                    nats_url=servers.nats_url,
                    database_url=servers.database_url,
                    extra={"action_timeout_ms": timeout_ms},
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
                return await (episodes or _platform_episodes)(
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
    # One scratch page per worker: the goal is read off the seeded page before submitting.
    scratch: dict[int, Any] = {}

    async def one(task: str, seed: int, slot: int) -> Episode:
        if slot not in scratch:
            scratch[slot] = await browser.new_page()
        run = functools.partial(
            _platform_episode,
            args, pages, browser, scratch[slot], planner, use_peer, http, tenant, key, task, seed,
        )  # fmt: skip
        return await scored(task, seed, _deadline_s(args) + 15, run)

    try:
        return await run_episodes(args, tasks, one)
    finally:
        for page in scratch.values():
            await page.close()


async def _platform_episode(
    args: argparse.Namespace,
    pages: Any,
    browser: Any,
    scratch: Any,
    planner: Any,
    use_peer: bool,
    http: httpx.AsyncClient,
    tenant: str,
    key: str,
    task: str,
    seed: int,
) -> Episode:
    """Submit one episode as a task through the gateway and wait for its reward or its end."""
    from macrohard.bench.page_actor import PageActor
    from macrohard.contracts.agent import IntentEmitted
    from macrohard.contracts.envelope import envelope
    from macrohard.contracts.tasks import TaskCancelRequested, TaskCompleted, TaskFailed
    from macrohard.planner.public import TERMINAL_EVENTS

    store, nc = planner.store, planner.nc
    tag = pages.new_tag(task)
    url = pages.url(task, seed, args.max_ms, tag)
    goal = await open_goal(scratch, url, args.page_load_ms)
    stop, acting, context = asyncio.Event(), None, None
    t0 = time.perf_counter()
    accepted = await http.post(
        "/v1/tasks",
        headers={"Authorization": f"Bearer {key}"},
        json={"goal": goal, "start_url": url, "max_steps": args.max_steps},
    )
    if accepted.is_error:
        raise EpisodeFailed(f"the gateway refused the task: {accepted.status_code} "
                            f"{accepted.text[:200]}")  # fmt: skip
    task_id = str(accepted.json()["task_id"])
    try:
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
        # The page scored it; the run itself ends with the planner's next decision (done):
        # wait a moment for it, so the run's decisions are all counted.
        settle = time.perf_counter() + 5
        while time.perf_counter() < settle and not any(
            isinstance(e, TERMINAL_EVENTS) for e in events
        ):
            await asyncio.sleep(0.05)
            events = [r.payload for r in await store.read_aggregate(tenant, "task", task_id)]
        events = [r.payload for r in await store.read_aggregate(tenant, "task", task_id)]
        reason = f"timed out after {time.perf_counter() - t0:.0f} s without ending"
        ended = [e for e in events if isinstance(e, TERMINAL_EVENTS)]
        if ended:
            last = ended[-1]
            reason = (
                f"task failed: {last.reason}"
                if isinstance(last, TaskFailed)
                else f"task completed: {last.result}"
                if isinstance(last, TaskCompleted)
                else f"task cancelled: {last.reason}"
            )
        elif pages.reward(tag) is None:
            cancel = TaskCancelRequested(task_id=task_id, reason="episode over")
            await store.append(
                [envelope(cancel, tenant=tenant, aggregate_id=task_id)], expected_version=None
            )
        decided = [e for e in events if isinstance(e, IntentEmitted) and e.step > 0]
        steps = sum(1 for e in decided if e.intent.action not in ("done", "fail"))
        episode = await _finish(pages, tag, task, seed, goal, steps, t0, reason)
        # Every decision not replayed from the playbook was a model call (done/fail too).
        return dataclasses.replace(
            episode,
            replayed_steps=sum(e.replayed for e in decided),
            model_steps=sum(not e.replayed for e in decided),
        )
    finally:
        stop.set()
        if acting is not None:
            await acting
        if context is not None:
            await context.close()

"""One Chromium per actuator process, one isolated browser context per task.

A context is a separate profile (cookies, storage, cache): what one task logs into, no other
task sees. Contexts are cheap (~10 ms); the browser is not (~1 s), hence one per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import (
    Browser,
    BrowserContext,
    Download,
    Page,
    Playwright,
    Request,
    Response,
    async_playwright,
)

from macrohard.actuator.guard import RequestGuard, Resolver
from macrohard.actuator.observer import QUIET_TRACKER
from macrohard.actuator.proxy import EgressProxy
from macrohard.actuator.sandbox import Confinement, prepare
from macrohard.actuator.write_ahead import EffectRecorder
from macrohard.contracts.browser import PageElement

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # QUIC would let traffic leave outside the request routing's view.
    "--disable-quic",
    # WebRTC's UDP would not go through the proxy either.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-dev-shm-usage",
    # Chromium's own calls home (autofill, translate, hints) would only be refused noise.
    "--disable-features=AutofillServerCommunication,Translate,OptimizationHints,MediaRouter",
    "--disable-client-side-phishing-detection",
    "--disable-component-extensions-with-background-pages",
    "--no-default-browser-check",
]
VIEWPORT = {"width": 1280, "height": 800}
# How long closing a context (or the browser) may take before it is given up on.
CLOSE_DEADLINE_S = 5.0

log = logging.getLogger("macrohard.actuator.browser")

# Playwright reads its driver's path from the process environment when it starts: two pools
# starting at once on one loop (tests, a replay beside a service) take turns.
_DRIVER_STARTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _driver_start_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    return _DRIVER_STARTS.setdefault(loop, asyncio.Lock())


def chromium_path() -> str | None:
    """Debian's Chromium when present (Playwright cannot download its own here)."""
    path = os.environ.get("MH_ACTUATOR_CHROMIUM", CHROMIUM)
    return path if Path(path).exists() else None


@dataclass(eq=False)
class TaskBrowser:
    """A task's browser context and page, with what the actuator remembers about it."""

    task_id: str
    tenant: str
    context: BrowserContext
    page: Page
    guard: RequestGuard
    proxy: EgressProxy
    allowed_domains: list[str] | None  # None: unknown tenant (see domain.check_url)
    secrets: list[str] = field(default_factory=list)  # plaintexts to scrub, never logged
    last_elements: dict[int, PageElement] = field(default_factory=dict)
    inflight: dict[Page, int] = field(default_factory=dict)
    # Downloads the page started and the actuator has not kept yet (see files.py), the
    # content type each recent response declared (a Download does not carry it), and how
    # many files this context kept for the task (the plan's per-task count).
    downloads: list[Download] = field(default_factory=list)
    content_types: dict[str, str] = field(default_factory=dict)
    files_kept: int = 0
    # Armed while an action with effects is in flight: its requests that can carry an
    # effect wait for their record in the log (write_ahead.py).
    effects: EffectRecorder | None = None


class BrowserPool:
    """The process's browser and its tasks' contexts."""

    def __init__(self, *, local_test_mode: bool = False, headless: bool = True) -> None:
        self.local_test_mode = local_test_mode
        self.headless = headless
        self.resolver = Resolver()
        self._pw: Playwright | None = None
        self.confinement: Confinement | None = None
        self._browser: Browser | None = None
        self._tasks: dict[str, TaskBrowser] = {}
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._start_lock:
            if self._browser is not None:
                return
            if self.confinement is None:
                self.confinement = await asyncio.to_thread(prepare)
            confinement = self.confinement
            if self._pw is None:
                async with _driver_start_lock():
                    with confinement.driver():
                        self._pw = await async_playwright().start()
            self._browser = await self._pw.chromium.launch(
                executable_path=chromium_path(),
                headless=self.headless,
                args=CHROMIUM_ARGS if confinement.sandbox else [*CHROMIUM_ARGS, "--no-sandbox"],
                chromium_sandbox=confinement.sandbox,
                env=confinement.environment(),
            )

    async def close_all(self) -> None:
        for task_id in list(self._tasks):
            await self.close(task_id)

    async def stop(self) -> None:
        await self.close_all()
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._pw is not None:
            await self._pw.stop()
            self._pw = None
        if self.confinement is not None:
            self.confinement.release()
            self.confinement = None

    def get(self, task_id: str) -> TaskBrowser | None:
        return self._tasks.get(task_id)

    @property
    def open_tasks(self) -> int:
        return len(self._tasks)

    async def open(
        self,
        task_id: str,
        tenant: str,
        allowed_domains: Sequence[str] | None,
        storage_state: dict[str, Any] | None = None,
    ) -> TaskBrowser:
        """A fresh isolated context for the task (closing one it may still have), starting
        from a saved session's cookies and local storage when `storage_state` is given."""
        await self.start()
        assert self._browser is not None
        await self.close(task_id)
        allowed = None if allowed_domains is None else list(allowed_domains)
        holder: list[TaskBrowser] = []

        def current_allowlist() -> list[str] | None:
            # Read at each request: a tenant's domain change reaches a running task.
            return holder[0].allowed_domains if holder else allowed

        async def before_effect(request: Request) -> bool:
            recorder = holder[0].effects if holder else None
            return True if recorder is None else await recorder.before_send(request)

        guard = RequestGuard(
            current_allowlist,
            local_test_mode=self.local_test_mode,
            resolver=self.resolver,
            secrets=lambda: holder[0].secrets if holder else [],
            before_effect=before_effect,
        )
        proxy = EgressProxy(
            current_allowlist,
            local_test_mode=self.local_test_mode,
            resolver=self.resolver,
            on_refused=guard.record_refusal,
        )
        # Every connection of the context, loopback included, goes through its own proxy.
        proxy_url = await proxy.start()
        context = await self._browser.new_context(
            viewport=VIEWPORT,  # type: ignore[arg-type]
            # A service worker would fetch outside the context's request routing.
            service_workers="block",
            # Downloads are kept as the task's artifacts (files.py), within the plan's limits.
            accept_downloads=True,
            proxy={"server": proxy_url, "bypass": "<-loopback>"},
            storage_state=storage_state,  # type: ignore[arg-type]
        )
        await context.route("**/*", guard.route)
        await context.route_web_socket("**/*", guard.route_web_socket)
        await context.add_init_script(QUIET_TRACKER)
        page = await context.new_page()
        tb = TaskBrowser(task_id, tenant, context, page, guard, proxy, allowed)
        holder.append(tb)
        _track_requests(tb)
        self._tasks[task_id] = tb
        return tb

    async def close(self, task_id: str) -> None:
        """Close a task's context, bounded: one that will not close restarts the browser.

        The other tasks' contexts go with a restarted browser: their next intent finds no
        context and reopens the session from the log (a takeover), as after a crash.
        """
        tb = self._tasks.pop(task_id, None)
        if tb is None:
            return
        try:
            async with asyncio.timeout(CLOSE_DEADLINE_S):
                await tb.context.close()
        except TimeoutError:
            log.error("a context did not close in time; restarting the browser")
            await self.restart()
        finally:
            await tb.proxy.close()

    async def restart(self) -> None:
        """Close the browser (bounded) and forget every context; `start` launches anew."""
        browser, self._browser = self._browser, None
        for tb in self._tasks.values():
            await tb.proxy.close()
        self._tasks.clear()
        if browser is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_DEADLINE_S):
                    await browser.close()


def _track_requests(tb: TaskBrowser) -> None:
    """Count each page's requests in flight, for settling (see Observer.settle)."""

    def started(request: object) -> None:
        page = _page_of(request)
        if page is not None:
            tb.inflight[page] = tb.inflight.get(page, 0) + 1

    def ended(request: object) -> None:
        page = _page_of(request)
        if page is not None and tb.inflight.get(page, 0) > 0:
            tb.inflight[page] -= 1

    tb.context.on("request", started)
    tb.context.on("requestfinished", ended)
    tb.context.on("requestfailed", ended)
    tb.context.on("response", lambda response: _remember_type(tb, response))

    def answered(response: Response) -> None:
        if tb.effects is not None:
            tb.effects.answered(response, tb.page)

    def failed(request: Request) -> None:
        if tb.effects is not None:
            tb.effects.failed(request, tb.page)

    tb.context.on("response", answered)
    tb.context.on("requestfailed", failed)

    def download(started: Download) -> None:
        tb.downloads.append(started)

    tb.page.on("download", download)

    def popup(page: Page) -> None:
        # A new tab (target=_blank, window.open) becomes the task's current page; when it
        # closes, the most recent page still open takes over again.
        tb.page = page
        page.on("close", lambda _: closed(page))
        page.on("download", download)

    def closed(page: Page) -> None:
        if tb.page is page:
            still_open = [p for p in tb.context.pages if not p.is_closed()]
            if still_open:
                tb.page = still_open[-1]

    tb.context.on("page", popup)


CONTENT_TYPES_KEPT = 64


def _remember_type(tb: TaskBrowser, response: Response) -> None:
    kind = response.headers.get("content-type")
    if kind:
        tb.content_types[response.url] = kind
        if len(tb.content_types) > CONTENT_TYPES_KEPT:
            tb.content_types.pop(next(iter(tb.content_types)))


def _page_of(request: object) -> Page | None:
    try:
        return request.frame.page  # type: ignore[attr-defined,no-any-return]
    except Exception:  # service-worker or detached-frame requests have no page
        return None

"""MiniWoB++ episodes in a real Chromium: serve the task pages, seed, start, read the reward.

The page side of `mh bench miniwob`. `DirectPage` also observes and acts itself, with the
actuator's own observer and gestures (`macrohard.actuator.public`), so the planner model is
developed on the observations it gets in production, without the platform; the bench says
which path produced a figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Any

import msgspec

from macrohard.actuator.public import (
    GESTURES,
    chromium_path,
    hover,
    parse_keys,
    perform_gesture,
    read_page,
)
from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageObservation
from macrohard.devkit.pages import LocalSite, PageReply, PageRequest

# One launch recipe for every Chromium the platform starts (see the actuator's browser.py).
CHROMIUM = chromium_path()


def miniwob_html_root() -> str:
    import miniwob

    return os.path.join(os.path.dirname(miniwob.__file__), "html")


# The longest an observation waits for the page's requests in flight (the actuator's cap).
SETTLE_CAP_S = 1.5

# Injected into every task page served with ?seed=: seeds the page's RNG, raises the time
# limit and starts the episode on load, and reports the reward to the page server when
# core.endEpisode runs. Whoever drives the browser (the platform's actuator or the dev-loop
# actor) then needs no access to the page's JS, and the bench still reads the WOB_* reward.
AUTOSTART = """<script>
(function () {
  var q = new URLSearchParams(location.search);
  if (q.get('seed') === null) return;
  window.addEventListener('load', function () { setTimeout(function () {
    var end = core.endEpisode;
    core.endEpisode = function () {
      var live = core.EP_TIMER !== null;
      end.apply(this, arguments);
      if (live) navigator.sendBeacon('/__reward', JSON.stringify({tag: q.get('tag') || '',
        reward: WOB_REWARD_GLOBAL, raw: WOB_RAW_REWARD_GLOBAL, reason: String(WOB_REWARD_REASON)}));
    };
    Math.seedrandom(q.get('seed'));
    core.EPISODE_MAX_TIME = parseInt(q.get('max_ms') || '60000');
    core.startEpisodeReal();
    window.__mh_goal = core.getUtterance();
  }, 0); });
})();
</script>
"""


@dataclass(frozen=True)
class Reward:
    reward: float
    raw: float
    reason: str


class PageServer:
    """The task pages on a free loopback port, with AUTOSTART injected and rewards collected."""

    def __init__(self, root: str | None = None) -> None:
        self.root = root or miniwob_html_root()
        self.rewards: dict[str, Reward] = {}
        self._episodes = 0
        self._lock = threading.Lock()
        self._site = LocalSite(self._route, directory=self.root)
        self.base = self._site.url("/miniwob/")

    def new_tag(self, task: str) -> str:
        """A tag no earlier episode of this server used: rewards are keyed by it."""
        with self._lock:
            self._episodes += 1
            return f"{task}-{self._episodes}"

    def url(self, task: str, seed: int, max_ms: int, tag: str) -> str:
        return f"{self.base}{task}.html?seed={seed}&max_ms={max_ms}&tag={tag}"

    def record(self, tag: str, reward: Reward) -> None:
        with self._lock:
            self.rewards.setdefault(tag, reward)

    def reward(self, tag: str) -> Reward | None:
        with self._lock:
            return self.rewards.get(tag)

    def __enter__(self) -> PageServer:
        self._site.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._site.stop()

    def _route(self, request: PageRequest) -> PageReply | None:
        if request.method == "POST":
            if request.path == "/__reward":
                r = msgspec.json.decode(request.body)
                self.record(
                    str(r["tag"]), Reward(float(r["reward"]), float(r["raw"]), str(r["reason"]))
                )
            return PageReply(status=204)
        if not (request.path.endswith(".html") and "seed" in request.query):
            return None  # the page's scripts and styles, as plain files
        file = os.path.join(self.root, request.path.lstrip("/"))
        try:
            html = open(file, encoding="utf-8").read()  # noqa: SIM115 - small page
        except OSError:
            return PageReply(status=404, body="not found")
        return PageReply(body=html.replace("</body>", AUTOSTART + "</body>"))

    def log_message(self, format: str, *args: Any) -> None:
        return


async def goal_of(page: Any, url: str, timeout_ms: float = 30000) -> str:
    """Open a seeded task page and read its utterance (same seed, same problem)."""
    await page.goto(url, timeout=timeout_ms)
    await page.wait_for_function("typeof window.__mh_goal === 'string'", timeout=timeout_ms)
    goal: str = await page.evaluate("window.__mh_goal")
    return goal


START_EPISODE_JS = """([seed, maxMs]) => {
  Math.seedrandom(seed);
  core.EPISODE_MAX_TIME = maxMs;
  core.startEpisodeReal();
  return core.getUtterance();
}"""

REWARD_JS = """() => ({done: WOB_DONE_GLOBAL, reward: WOB_REWARD_GLOBAL,
  raw: WOB_RAW_REWARD_GLOBAL, reason: String(WOB_REWARD_REASON)})"""


async def start_episode(page: Any, seed: int, max_ms: int) -> str:
    """Seed the page's RNG, raise its time limit and start; returns the task's utterance."""
    await page.wait_for_function("typeof core !== 'undefined' && WOB_TASK_READY !== false")
    goal: str = await page.evaluate(START_EPISODE_JS, [f"{seed}", max_ms])
    return goal


async def read_reward(page: Any) -> tuple[bool, float, str]:
    r = await page.evaluate(REWARD_JS)
    return bool(r["done"]), float(r["reward"]), str(r["reason"])


class DirectPage:
    """Observe and act on one page directly (dev loop and bench fallback path)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        # The page's requests in flight, counted as the actuator counts them, so that an
        # observation waits, as the actuator's does, for what the page is still loading (an
        # icon drawn by a stylesheet has no size, and is not seen, until its picture arrives).
        self.inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, _: object) -> None:
        self.inflight += 1
        self._idle.clear()

    def _ended(self, _: object) -> None:
        self.inflight = max(self.inflight - 1, 0)
        if self.inflight == 0:
            self._idle.set()

    async def observe(self) -> PageObservation:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), SETTLE_CAP_S)
        return await read_page(self.page)

    async def act(self, intent: Intent) -> tuple[bool, str]:
        page = self.page
        loc = (
            page.locator(f'[data-mh-id="{intent.element}"]') if intent.element is not None else None
        )

        async def find(element: int) -> Any:
            return page.locator(f'[data-mh-id="{element}"]')

        try:
            match intent.action:
                case action if action in GESTURES:
                    await perform_gesture(page, intent, find, 2000)
                case "click":
                    assert loc is not None
                    await loc.click(timeout=2000)
                case "type":
                    assert loc is not None
                    await loc.fill(intent.text or "", timeout=2000)
                case "clear":
                    assert loc is not None
                    await loc.fill("", timeout=2000)
                case "select":
                    assert loc is not None
                    await loc.select_option(
                        label=intent.values or [intent.text or ""], timeout=2000
                    )
                case "check" | "uncheck":
                    assert loc is not None
                    await loc.set_checked(intent.action == "check", timeout=2000)
                case "press":  # chords one after another, as the actuator presses them
                    for chord in parse_keys(intent.keys or "Enter"):
                        if loc is not None:
                            await loc.press(chord, timeout=2000)
                        else:
                            await page.keyboard.press(chord)
                case "hover":
                    assert loc is not None
                    await hover(page, loc, intent, 2000)
                case "scroll":
                    if loc is not None:  # the wheel scrolls what the pointer is over
                        await loc.hover(timeout=2000)
                    await page.mouse.wheel(intent.dx, intent.dy)
                case "wait_for":
                    await page.wait_for_timeout(min(intent.wait_ms, 30000))
                case "navigate":
                    await page.goto(intent.url or "")
                case _:
                    return True, ""
        except Exception as exc:
            return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        # Let debounced widgets (autocomplete menus, animations) settle before observing.
        await asyncio.sleep(0.35 if intent.action == "type" else 0.05)
        return True, ""

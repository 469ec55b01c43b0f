"""Reading a page: the observer script that stamps stable ids, and page settling.

Ids are stamped into the DOM (`data-mh-id`) the first time the observer sees an element and
re-used on every later observation of the same document, so "element 7" means the same
node across steps of one page. A new document starts again at 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from playwright.async_api import Page

from macrohard.actuator.domain import (
    ObservationLimits,
    compact_elements,
    scrub,
    secret_window,
    well_formed,
)
from macrohard.actuator.screenshots import ScreenshotStore
from macrohard.contracts.browser import PageObservation

ID_ATTRIBUTE = "data-mh-id"

# Installed in every document before its scripts run: remembers when the DOM last changed,
# so settling is "no mutation for N ms", checked without a round trip per mutation.
QUIET_TRACKER = """
(() => {
  window.__mhLastMutation = performance.now();
  const start = () => new MutationObserver(() => { window.__mhLastMutation = performance.now(); })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  if (document.documentElement) start(); else document.addEventListener('DOMContentLoaded', start);
})();
"""

# Resolves once the document is parsed and its DOM quiet for `quiet` ms (or after `cap` ms).
WAIT_QUIET = """
([quiet, cap]) => new Promise(resolve => {
  const t0 = performance.now();
  const tick = () => {
    const now = performance.now();
    const last = window.__mhLastMutation || 0;
    const quietNow = document.readyState !== 'loading' && now - last >= quiet;
    if (quietNow || now - t0 >= cap) resolve(now - t0);
    else setTimeout(tick, Math.min(quiet, 10));
  };
  tick();
})
"""

# Kept as its own file so it reads as JavaScript; the id attribute is ID_ATTRIBUTE.
OBSERVE_SCRIPT = (Path(__file__).parent / "observe.js").read_text()


class Observer:
    """Observes pages: settle, run the observer script, compact, screenshot."""

    def __init__(
        self,
        screenshots: ScreenshotStore,
        limits: ObservationLimits | None = None,
        *,
        quiet_ms: int = 30,
        settle_cap_ms: int = 1500,
        max_raw: int = 2000,
    ) -> None:
        self.screenshots = screenshots
        self.limits = limits or ObservationLimits()
        self.quiet_ms = quiet_ms
        self.settle_cap_ms = settle_cap_ms
        self.max_raw = max_raw

    async def settle(self, page: Page, inflight: dict[Page, int] | None = None) -> None:
        """Wait until the page's requests are done and its DOM has been quiet, capped.

        Not Playwright's "networkidle": that always waits 500 ms, per step.
        """
        deadline = time.perf_counter() + self.settle_cap_ms / 1000
        while inflight is not None and inflight.get(page, 0) > 0:
            if time.perf_counter() >= deadline:
                return
            await asyncio.sleep(0.01)
        left = max(int((deadline - time.perf_counter()) * 1000), 0)
        try:
            # One round trip: parsed + quiet are both checked inside the page.
            await page.evaluate(WAIT_QUIET, [self.quiet_ms, left])
        except Exception:  # navigated while waiting: wait for the new document instead
            with contextlib.suppress(Exception):
                await page.wait_for_load_state("domcontentloaded", timeout=max(left, 1))

    async def observe(self, page: Page, secrets: list[str]) -> PageObservation:
        seen = await read_page(page, secrets, self.limits, self.max_raw)
        # JPEG: a third smaller and faster to encode than PNG, plenty for a model or a person.
        shot = await page.screenshot(
            type="jpeg", quality=70, animations="disabled", caret="initial"
        )
        sha = await asyncio.to_thread(self.screenshots.put, shot)
        return msgspec.structs.replace(seen, screenshot_sha256=sha)


async def read_page(
    page: Page,
    secrets: Sequence[str] = (),
    limits: ObservationLimits | None = None,
    max_raw: int = 2000,
) -> PageObservation:
    """The page's elements as the planner sees them (no screenshot), secrets scrubbed."""
    limits = limits or ObservationLimits()
    secrets = list(secrets)
    # The page script clips texts; it must leave whole any secret that begins inside
    # what we keep, so scrubbing (before our own clipping) still finds it.
    window = secret_window(limits.max_text, secrets)
    raw: dict[str, Any] = await _evaluate_with_retry(
        page, OBSERVE_SCRIPT, [max_raw, window, limits.max_shapes]
    )
    elements, omitted = compact_elements(raw["elements"], limits, secrets)
    # Shapes past the cap were counted, not listed (a chart of thousands of paths).
    omitted += int(raw.get("shapes_omitted") or 0)
    return PageObservation(
        # A secret typed into a search box can come back in the URL or the title.
        url=scrub(well_formed(raw["url"]), secrets),
        title=scrub(well_formed(raw["title"]), secrets)[: limits.max_text],
        elements=elements,
        omitted=omitted,
        selection=_clip_selection(raw.get("selection"), limits.max_text, secrets),
    )


def _clip_selection(selection: object, limit: int, secrets: list[str]) -> str:
    # A selection may hold a secret the page shows: scrubbed like any observed text.
    text = " ".join(scrub(well_formed(str(selection or "")), secrets).split())
    return text[:limit]


async def _evaluate_with_retry(page: Page, script: str, arg: Any) -> Any:
    # A navigation between the action and the observation destroys the execution context:
    # wait for the new document and read that one instead.
    for attempt in range(3):
        try:
            return await page.evaluate(script, arg)
        except Exception:
            if attempt == 2:
                raise
            await page.wait_for_load_state("domcontentloaded", timeout=5000)
    raise AssertionError("unreachable")

"""The planner model on a page where time matters, in a real Chromium: a price that moves
faster than a decision is bought the moment it meets the goal's condition, watched in the
page by the actuator's `click_when`. The page's own script records in `#log` what it got.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from macrohard.devkit.pages import LocalSite, fixed_pages
from tests.planner_model.driving import run_model

PAGES = Path(__file__).parent / "pages"


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    pages = {"/ticker.html": (PAGES / "ticker.html").read_text()}
    with LocalSite(fixed_pages(pages)) as s:
        yield s


async def solve(browser: Any, url: str, goal: str) -> tuple[str, list[str], list[str]]:
    """Run the model on a fresh page: (its last action, the actions it took, the page's log)."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(url)
        last, history = await run_model(page, goal, 12)
        log = await page.locator("#log samp").all_text_contents()
        return last.action, [h.intent.action for h in history], log
    finally:
        await context.close()


async def test_a_price_below_the_bound_for_a_moment_is_bought_during_that_moment(
    browser: Any, site: LocalSite
) -> None:
    # The price is under $50 for 200 ms of every 1200: observing, deciding and then clicking
    # mostly lands on another price; the page itself records the price the click met.
    goal = "Buy ACME stock when the share price is less than $50.00."
    last, actions, log = await solve(browser, site.url("/ticker.html"), goal)
    assert last == "done" and log in (["bought at $49.50"], ["bought at $49.00"]), (
        last,
        actions,
        log,
    )
    assert actions == ["click_when"]


async def test_a_price_that_already_holds_and_never_moves_is_bought_at_once(
    browser: Any, site: LocalSite
) -> None:
    goal = "Buy ACME stock when the share price is below $50"
    last, actions, log = await solve(browser, site.url("/ticker.html?tick=0"), goal)
    assert (last, actions, log) == ("done", ["click_when"], ["bought at $49.50"])

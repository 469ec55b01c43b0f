"""Drawn menus, moving targets and resize grips in a real Chromium, on pages written for
these tests (`pages/ring.html`, `drift.html`, `resizable.html`): the observer sees SVG
shapes by the text drawn on them and knows a point inside each, a `click_at` with
`repeat_ms` presses targets as they cross a drawing, and a resize grip is dragged the way
the goal says. Each page's own script records what it received in `#log`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import miniwob
import pytest

from macrohard.actuator.observer import QUIET_TRACKER, Observer, read_page
from macrohard.actuator.screenshots import ScreenshotStore
from macrohard.bench.miniwob_episode import DirectPage
from macrohard.contracts.agent import Intent
from macrohard.devkit.pages import LocalSite, fixed_pages
from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide

PAGES = Path(__file__).parent / "pages"
# jQuery UI, a library many sites use for resizable boxes: the copy the miniwob package ships.
JQUERY_UI = Path(miniwob.__file__ or "").parent / "html" / "core" / "jquery-ui"

# 5,000 paths in one drawing, then a button: the chart must not crowd the page out.
CHART = (
    "<!doctype html><html><body><svg width='400' height='300'>"
    + "".join(
        f"<path d='M{i % 100 * 4},{i // 100 * 6}h3v5h-3z' fill='#4477aa'></path>"
        for i in range(5000)
    )
    + "</svg><button>Export</button></body></html>"
)


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    pages: dict[str, bytes | str] = {
        f"/{p}": (PAGES / p).read_text() for p in ("ring.html", "drift.html", "resizable.html")
    }
    pages["/chart.html"] = CHART
    # Other paths are the library's files (resizable.html loads them).
    with LocalSite(fixed_pages(pages), directory=JQUERY_UI) as s:
        yield s


async def solve(
    browser: Any, url: str, goal: str, max_steps: int = 10
) -> tuple[Intent, list[PastStep], list[str]]:
    """The model on a fresh page until done or fail: (its last intent, its steps, the log).

    Each look waits for the page to settle first, as the actuator's observer does (a menu
    spreading out is observed where it ends, not half-way)."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.add_init_script(QUIET_TRACKER)
        await page.goto(url)
        direct, history = DirectPage(page), list[PastStep]()
        settling = Observer(ScreenshotStore(PAGES))  # settle only: nothing is stored
        intent = Intent(action="fail", reason="no step taken")
        for _ in range(max_steps):
            await settling.settle(page)
            observation = await direct.observe()
            intent = decide(PlanRequest(goal=goal, observation=observation, history=history))
            if intent.action in ("done", "fail"):
                break
            ok, error = await direct.act(intent)
            history.append(PastStep(intent=intent, ok=ok, error=error))
        return intent, history, await page.locator("#log samp").all_text_contents()
    finally:
        await context.close()


async def test_a_sector_is_seen_by_its_label_with_a_point_inside_it(
    browser: Any, site: LocalSite
) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(site.url("/ring.html"))
        folded = await read_page(page)
        # Folded into the centre, the labels are a pixel wide: nothing a person could read.
        assert not [e for e in folded.elements if e.name == "Gamma" or e.text == "Gamma"]
        await page.locator("#toggle").click()
        await page.wait_for_timeout(600)
        seen = await read_page(page)
        sectors = {e.name: e for e in seen.elements if e.shape == "path"}
        assert set(sectors) == {"Alpha", "Bravo", "Gamma", "Delta"}, seen.elements
        for name, e in sectors.items():
            assert e.box is not None and e.point is not None, e
            # The box's centre is in the ring's hole; the point is on the sector itself.
            hit = await page.evaluate(
                "([x, y]) => document.elementFromPoint(x, y).getAttribute('class')",
                [e.box.x + e.box.w / 2, e.box.y + e.box.h / 2],
            )
            assert hit != "sector", (name, hit)
            await page.mouse.click(e.box.x + e.point[0], e.box.y + e.point[1])
        log = await page.locator("#log samp").all_text_contents()
        assert log == ["opened", "picked Alpha", "picked Bravo", "picked Gamma", "picked Delta"]
    finally:
        await context.close()


@pytest.mark.parametrize("name", ["Gamma", "Bravo"])
async def test_a_ring_menu_is_opened_and_a_sector_clicked_by_its_label(
    browser: Any, site: LocalSite, name: str
) -> None:
    last, _, log = await solve(
        browser,
        site.url("/ring.html"),
        f'Expand the ring menu, then click on the sector labeled "{name}".',
    )
    assert last.action == "done", last
    assert log == ["opened", f"picked {name}"], log


async def test_a_chart_of_thousands_of_paths_is_capped_and_says_so(
    browser: Any, site: LocalSite
) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(site.url("/chart.html"))
        seen = await read_page(page)
        assert len(seen.elements) <= 150, len(seen.elements)
        assert seen.omitted >= 4700, seen.omitted
        assert any(e.role == "button" and e.name == "Export" for e in seen.elements)
    finally:
        await context.close()


async def test_targets_crossing_a_drawing_are_pressed_in_a_few_steps(
    browser: Any, site: LocalSite
) -> None:
    last, steps, log = await solve(
        browser, site.url("/drift.html"), "Click as many moving gold circles as possible."
    )
    assert last.action == "done", last
    assert log.count("hit") >= 6 and "wrong" not in log, log
    presses = [s for s in steps if s.intent.action == "click_at"]
    assert presses and all(s.intent.repeat_ms for s in presses), steps
    # A step per target cannot keep up through the platform: a run of presses is a step.
    assert len(steps) <= 8, [s.intent for s in steps]


@pytest.mark.parametrize(
    ("goal", "report"),
    [
        ("Resize the notes so that the width is smaller than it is now, then click Save",
         "narrower, same height"),
        ("Make the notes box wider and press Save", "wider, same height"),
        ("Resize the notes so that the height is larger, then click Save",
         "same width, taller"),
    ],
)  # fmt: skip
async def test_a_resizable_box_is_dragged_by_its_grip_the_way_the_goal_says(
    browser: Any, site: LocalSite, goal: str, report: str
) -> None:
    last, _, log = await solve(browser, site.url("/resizable.html"), goal)
    assert last.action == "done", last
    assert log == [report], log

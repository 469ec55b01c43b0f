"""The planner model's page skills end to end in a real Chromium: pages written for these
tests (none copied from a benchmark) whose own scripts record what they received, observed
with the actuator's observer and acted on with its gestures, the model deciding each step.

`test_skills.py` checks the model on observations built by hand; here the observation is
the one production makes, so what the observer reports (shapes, sizes, a long value's end)
and what the model makes of it are checked together.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from macrohard.devkit.pages import LocalSite, fixed_pages
from macrohard.planner_model.web_planner import PastStep
from tests.planner_model.driving import run_model

# Every answer a page receives goes into window.got, in order.
RECORD = "<script>window.got = []; function answer(v) { window.got.push(String(v)); }</script>"

SHAPES = f"""<!doctype html><html><head><title>Shapes</title></head><body>{RECORD}
<p>Look at the drawing.</p>
<svg width="240" height="200">
  <circle cx="20" cy="20" r="15" fill="blue"/>
  <circle cx="70" cy="20" r="6" fill="blue"/>
  <rect x="100" y="5" width="30" height="30" fill="#0000ee"/>
  <rect x="150" y="10" width="12" height="12" fill="red"/>
  <polygon points="10,90 25,60 40,90" fill="blue"/>
  <text x="80" y="90" font-size="32" fill="green">K</text>
  <text x="130" y="90" font-size="12" fill="blue">4</text>
  <text x="160" y="90" font-size="32" fill="blue">4</text>
</svg>
<div>{" ".join(f'<button onclick="answer({n})">{n}</button>' for n in range(9))}</div>
</body></html>"""

KINDS = ("Square", "Circle", "Letter", "Number")
FIGURE = f"""<!doctype html><html><head><title>Figure</title></head><body>{RECORD}
<svg width="200" height="120"><text x="80" y="80" font-size="60" fill="purple">7</text></svg>
<div>{" ".join(f'<button onclick="answer({w.lower()!r})">{w}</button>' for w in KINDS)}</div>
</body></html>"""

NOTES = " ".join(f"word{i}" for i in range(120)) + " kingfisher."
LONG_VALUE = f"""<!doctype html><html><head><title>Notes</title></head><body>{RECORD}
<label for="notes">Notes</label><br><textarea id="notes" rows="4" cols="30">{NOTES}</textarea>
<p><label for="answer">Answer</label> <input id="answer">
<button onclick="answer(document.getElementById('answer').value)">Send</button></p>
</body></html>"""

# Three discs glide across the drawing, the second and third setting off later; a fourth is
# parked outside it (clipped away: not to be clicked). A disc hit is gone.
MOVING = f"""<!doctype html><html><head><title>Moving</title></head><body>{RECORD}
<svg id="sky" width="300" height="160"></svg>
<script>
const sky = document.getElementById('sky'), t0 = performance.now();
const discs = [[0, 40], [400, 80], [800, 120], [1e9, 60]].map(([start, y], i) => {{
  const c = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
  c.setAttribute('r', 16); c.setAttribute('cy', y); c.setAttribute('cx', -30);
  c.addEventListener('click', e => {{ e.stopPropagation(); answer('hit ' + i); c.remove(); }});
  sky.appendChild(c);
  return [c, start];
}});
sky.addEventListener('click', () => answer('miss'));
(function glide(now) {{
  for (const [c, start] of discs)
    if (now - t0 > start) c.setAttribute('cx', -30 + (now - t0 - start) / 15);
  requestAnimationFrame(glide);
}})(t0);
</script></body></html>"""

# A spot hidden in a box: the pointer over the box makes the page say how near it is.
FEEL = f"""<!doctype html><html><head><title>Feel</title></head><body>{RECORD}
<div id="box" style="width:220px;height:150px;border:2px solid gray;margin:20px"></div>
<p id="says"></p>
<script>
const box = document.getElementById('box'), spot = [163, 41];
const far = e => {{
  const r = box.getBoundingClientRect();
  return Math.hypot(e.clientX - r.left - spot[0], e.clientY - r.top - spot[1]);
}};
box.addEventListener('mousemove', e => {{
  const d = far(e);
  document.getElementById('says').textContent =
    d < 6 ? 'Hot' : d < 20 ? 'Warm' : d < 50 ? 'Cool' : 'Freezing';
}});
box.addEventListener('click', e => answer(far(e) < 6 ? 'found' : 'missed by ' + far(e)));
</script></body></html>"""

# A textarea with the browser's own resize grip; Save reports its size.
RESIZE = f"""<!doctype html><html><head><title>Resize</title></head><body>{RECORD}
<label for="c">Comment</label><br>
<textarea id="c" style="width:150px;height:60px;resize:both"></textarea><br>
<button onclick="const r = document.getElementById('c').getBoundingClientRect();
  answer(Math.round(r.width) + 'x' + Math.round(r.height))">Save</button>
</body></html>"""

PAGES = {
    "/resize": RESIZE,
    "/shapes": SHAPES,
    "/figure": FIGURE,
    "/notes": LONG_VALUE,
    "/moving": MOVING,
    "/feel": FEEL,
}


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    s = LocalSite(fixed_pages(PAGES)).start()
    yield s
    s.stop()


async def drive(page: Page, goal: str, max_steps: int = 25) -> list[PastStep]:
    """The model in a loop on the page until it says done or fail; the steps it took."""
    intent, history = await run_model(page, goal, max_steps)
    if intent.action not in ("done", "fail"):
        raise AssertionError(f"not done after {max_steps} steps: {history}")
    assert intent.action == "done", intent.reason
    return history


async def received(browser: Browser, site: LocalSite, path: str, goal: str) -> Any:
    """What the page's own script recorded after the model worked the goal on it."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(site.url(path))
        await drive(page, goal)
        return await page.evaluate("window.got")
    finally:
        await context.close()


@pytest.mark.parametrize(
    ("goal", "answer"),
    [
        ("How many large blue shapes are there?", "3"),  # circle, #0000ee square, triangle
        ("How many small items are there?", "3"),
        ("Count the blue 4s", "2"),
        ("how many circles are drawn", "2"),
        ("How many green letters are there?", "1"),
        ("How many red triangles are there?", "0"),
    ],
)
async def test_counting_what_is_drawn_clicks_the_number(
    browser: Browser, site: LocalSite, goal: str, answer: str
) -> None:
    assert await received(browser, site, "/shapes", goal) == [answer]


async def test_the_figure_is_named_by_its_kind(browser: Browser, site: LocalSite) -> None:
    goal = "Choose the answer that best describes the drawing shown."
    assert await received(browser, site, "/figure", goal) == ["number"]


async def test_the_last_word_of_a_value_too_long_to_observe_whole(
    browser: Browser, site: LocalSite
) -> None:
    goal = "Copy the last word from the notes, type it into the answer field and press Send."
    assert await received(browser, site, "/notes", goal) == ["kingfisher"]


async def test_moving_things_are_clicked_where_they_are_now(
    browser: Browser, site: LocalSite
) -> None:
    got = await received(browser, site, "/moving", "Click all the moving circles.")
    assert sorted(got) == ["hit 0", "hit 1", "hit 2"], got


async def test_a_spot_is_found_by_the_pages_hot_and_cold_feedback(
    browser: Browser, site: LocalSite
) -> None:
    assert await received(browser, site, "/feel", "Find and click on the hot spot.") == ["found"]


@pytest.mark.parametrize(
    ("goal", "grows"),
    [
        ("Resize the comment box so that its width is larger than before, then press Save.", 0),
        ("Make the comment box taller and press Save.", 1),
    ],
)
async def test_a_box_is_resized_by_its_corner(
    browser: Browser, site: LocalSite, goal: str, grows: int
) -> None:
    (size,) = await received(browser, site, "/resize", goal)
    before = [154, 64]  # 150x60 and the textarea's border
    after = [int(v) for v in size.split("x")]
    assert after[grows] > before[grows] + 20 and abs(after[1 - grows] - before[1 - grows]) <= 4, (
        size
    )

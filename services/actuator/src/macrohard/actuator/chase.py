"""Pressing things that move or keep arriving: a `click_at` with `repeat_ms` presses, for up
to that long, every element like the one named (same kind, class and colour, in the same
drawing or container) where it is at that very moment, each as it comes into sight.

A planner looking at one observation per step cannot click a target that crosses a drawing
in a few seconds (each step costs a round trip through the platform); the actuator can, by
reading the positions in the page and pressing right after. Each press is a real mouse
click on the point read, so the page's own handlers decide what it hit.
"""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import Page

# Presses of one element: a hit usually removes or changes it; one still there after this
# many presses is not a target.
MAX_PRESSES = 2
# Between two presses of the same element: the page gets time to react to the first.
AGAIN_AFTER_S = 0.15
POLL_S = 0.02  # nothing in sight: look again after this long

# Marks the named element's look (tag, class, fill) and its container, so later reads find
# every element like it, including ones that arrive after it. Returns the description.
DESCRIBE = """
(id) => {
  const el = document.querySelector(`[data-mh-id="${id}"]`);
  if (!el) return null;
  const box = el.ownerSVGElement || el.parentElement || document.body;
  if (!box.hasAttribute('data-mh-id')) box.setAttribute('data-mh-id', String(window.__mhNextId++));
  return {tag: el.tagName, cls: el.getAttribute('class') || '', fill: getComputedStyle(el).fill,
    box: Number(box.getAttribute('data-mh-id'))};
}
"""

# The first element like the described one whose centre is in sight (inside the viewport
# and inside its container where that clips, as an SVG does): [id, x, y]; [] when none is
# in sight; null when none is left at all. `tired` were pressed enough, `resting` just now.
NEXT = """
([d, tired, resting]) => {
  const box = document.querySelector(`[data-mh-id="${d.box}"]`);
  if (!box) return null;
  const like = Array.from(box.querySelectorAll(d.tag)).filter(e =>
    (e.getAttribute('class') || '') === d.cls && getComputedStyle(e).fill === d.fill);
  const b = box.getBoundingClientRect();
  const clips = box instanceof SVGElement || getComputedStyle(box).overflow !== 'visible';
  let left = 0;
  for (const e of like) {
    if (!e.hasAttribute('data-mh-id')) e.setAttribute('data-mh-id', String(window.__mhNextId++));
    const id = Number(e.getAttribute('data-mh-id'));
    if (tired.includes(id)) continue;
    left++;
    if (resting.includes(id)) continue;
    const r = e.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) continue;
    const x = r.x + r.width / 2, y = r.y + r.height / 2;
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
    if (clips && (x < b.left || x > b.right || y < b.top || y > b.bottom)) continue;
    return [id, x, y];
  }
  return left ? [] : null;
}
"""


async def chase(page: Page, element: int, repeat_ms: int) -> int:
    """Press every element like `element` as each comes into sight, for up to `repeat_ms`
    or until none is left; returns how many presses were made."""
    description = await page.evaluate(DESCRIBE, element)
    if description is None:
        return 0
    deadline = time.monotonic() + repeat_ms / 1000
    presses: dict[int, int] = {}
    last: dict[int, float] = {}
    while time.monotonic() < deadline:
        tired = [i for i, n in presses.items() if n >= MAX_PRESSES]
        resting = [i for i, t in last.items() if time.monotonic() - t < AGAIN_AFTER_S]
        found = await page.evaluate(NEXT, [description, tired, resting])
        if found is None:
            break
        if not found:
            await asyncio.sleep(POLL_S)
            continue
        at, x, y = int(found[0]), float(found[1]), float(found[2])
        await page.mouse.click(x, y)
        presses[at] = presses.get(at, 0) + 1
        last[at] = time.monotonic()
    return sum(presses.values())

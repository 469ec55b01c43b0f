"""Gestures beyond a plain click: a point, a hold, a drag, a text selection, a value set.

Each is what a person does with the mouse and keyboard, done with Playwright's real input
events (never a script that pretends an event happened), so the page's own handlers decide
what it means. Arguments are checked in `domain.validate_intent`; what depends on the page
(is the point inside the element, does the text exist) is checked here before acting.
Every call runs inside the actuator's watchdog like any other action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from playwright.async_api import Locator, Page

from macrohard.actuator.chase import chase
from macrohard.actuator.domain import parse_comparison, parse_number
from macrohard.actuator.watching import until_holds
from macrohard.contracts.agent import Intent

GESTURES = frozenset(
    {"drag", "right_click", "hold", "click_at", "select_text", "set_value", "click_when"}
)

# Moves between press and release: HTML5 drag and drop starts after the first move, and
# mouse-driven sortables want a few moves past their threshold before they follow.
DRAG_MOVES = 12
# A slider is walked one keyboard step at a time; more steps than this is not a slider.
MAX_VALUE_STEPS = 1000


class GestureFailed(Exception):
    """The gesture could not be done as asked on this page (the reason says why)."""


Find = Callable[[int], Awaitable[Locator]]


async def perform_gesture(page: Page, intent: Intent, find: Find, timeout: float) -> None:
    """Do one gesture intent (validated already); `find` turns an element id into a Locator."""
    action = intent.action
    if action == "click_at" and intent.element is None:
        assert intent.x is not None and intent.y is not None
        await click_at(page, point_in_viewport(page, intent.x, intent.y))
        return
    assert intent.element is not None
    el = await find(intent.element)
    if action == "drag":
        # The source first: the drop point is read after any scrolling that needed.
        await el.scroll_into_view_if_needed(timeout=timeout)
        to = await _drop_point(page, intent, find, timeout)
        grip = (
            None
            if intent.grip_x is None or intent.grip_y is None
            else (intent.grip_x, intent.grip_y)
        )
        await drag(page, el, to, timeout, grip)
    elif action == "right_click":
        await el.click(button="right", timeout=timeout)
    elif action == "hold":
        await hold(el, intent.hold_ms, timeout)
    elif action == "click_at" and intent.repeat_ms:
        await chase(page, intent.element, intent.repeat_ms)
    elif action == "click_at":
        assert intent.x is not None and intent.y is not None
        await click_at(page, await point_in(el, intent.x, intent.y, timeout))
    elif action == "select_text":
        await select_text(el, intent.text, timeout)
    elif action == "click_when":
        await click_when(page, el, intent, find, timeout)
    elif action == "set_value":
        target = parse_number(intent.text or "")
        assert target is not None  # validate_intent checked it
        shown_by = await find(intent.target_element) if intent.target_element is not None else None
        await set_value(page, el, target, shown_by, timeout)


async def click_when(page: Page, el: Locator, intent: Intent, find: Find, timeout: float) -> None:
    """Click the element the moment the number `target_element` shows meets the condition in
    `text`, watched in the page for up to `wait_ms`. The click point is read before the watch,
    so nothing but the mouse events lies between the change and the click."""
    condition = parse_comparison(intent.text or "")
    assert condition is not None and intent.target_element is not None  # validate_intent
    shown_by = await find(intent.target_element)
    at = await center_of(el, timeout)
    if not await until_holds(shown_by, *condition, intent.wait_ms):
        raise GestureFailed(
            f"the value shown never met {intent.text!r} within {intent.wait_ms} ms; not clicked"
        )
    await click_at(page, at)


async def _drop_point(
    page: Page, intent: Intent, find: Find, timeout: float
) -> tuple[float, float]:
    """Where a drag ends: the target element's centre, a point inside it, or of the viewport."""
    if intent.target_element is None:
        assert intent.x is not None and intent.y is not None
        return point_in_viewport(page, intent.x, intent.y)
    target = await find(intent.target_element)
    if intent.x is not None and intent.y is not None:
        return await point_in(target, intent.x, intent.y, timeout)
    return await center_of(target, timeout)


async def center_of(el: Locator, timeout: float) -> tuple[float, float]:
    """The element's centre in viewport coordinates, scrolled into view first."""
    await el.scroll_into_view_if_needed(timeout=timeout)
    box = await el.bounding_box(timeout=timeout)
    if box is None:
        raise GestureFailed("the element is not visible")
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


async def point_in(el: Locator, x: int, y: int, timeout: float) -> tuple[float, float]:
    """(x, y) relative to the element's box, in viewport coordinates; it must lie inside.

    The box is read just before the press, so a moving element is pressed where it is now;
    it is scrolled to only when the point is out of view (scrolling waits for the element
    to hold still, which a moving one never does)."""
    box = await el.bounding_box(timeout=timeout)
    if box is None or not await _in_view(el, box["x"] + x, box["y"] + y):
        await el.scroll_into_view_if_needed(timeout=timeout)
        box = await el.bounding_box(timeout=timeout)
    if box is None:
        raise GestureFailed("the element is not visible")
    if x > box["width"] or y > box["height"]:
        raise GestureFailed(
            f"point ({x}, {y}) is outside the element's box "
            f"({round(box['width'])}x{round(box['height'])})"
        )
    return box["x"] + x, box["y"] + y


async def _in_view(el: Locator, x: float, y: float) -> bool:
    size = el.page.viewport_size or {"width": 0, "height": 0}
    return 0 <= x < size["width"] and 0 <= y < size["height"]


def point_in_viewport(page: Page, x: int, y: int) -> tuple[float, float]:
    size = page.viewport_size or {"width": 0, "height": 0}
    if x > size["width"] or y > size["height"]:
        raise GestureFailed(
            f"point ({x}, {y}) is outside the viewport ({size['width']}x{size['height']})"
        )
    return float(x), float(y)


async def click_at(page: Page, at: tuple[float, float]) -> None:
    """A click on whatever is drawn at the point: a canvas, an SVG shape, a map."""
    await page.mouse.click(at[0], at[1])


async def hover(page: Page, el: Locator, intent: Intent, timeout: float) -> None:
    """Rest the pointer on the element: at its point (x, y) when the intent names one, in
    the same box as `click_at`, so a spot felt by hovering is clicked exactly there."""
    if intent.x is None or intent.y is None:
        await el.hover(timeout=timeout)
        return
    at = await point_in(el, intent.x, intent.y, timeout)
    await page.mouse.move(at[0], at[1])


async def hold(el: Locator, hold_ms: int, timeout: float) -> None:
    """Press on the element, keep the button down for hold_ms, release."""
    await el.click(delay=hold_ms, timeout=timeout)


async def drag(
    page: Page,
    source: Locator,
    to: tuple[float, float],
    timeout: float,
    grip: tuple[int, int] | None = None,
) -> None:
    """Press on the source (its centre, or the grip point of its box), move in steps to the
    point, release there."""
    sx, sy = await (
        center_of(source, timeout) if grip is None else point_in(source, *grip, timeout)
    )
    await page.mouse.move(sx, sy)
    await page.mouse.down()
    # A first small move starts the drag (HTML5 dragstart, a sortable's threshold), toward
    # the drop point: a resize handle nudged the other way first (a fixed +4,+4 went out of
    # a textarea's corner before shrinking its width) ignored the whole drag.
    nx, ny = _nudge(to[0] - sx, to[1] - sy)
    await page.mouse.move(sx + nx, sy + ny, steps=2)
    await page.mouse.move(to[0], to[1], steps=DRAG_MOVES)
    # Once more on the spot: some libraries decide the drop position on the last move.
    await page.mouse.move(to[0] + 1, to[1])
    await page.mouse.move(to[0], to[1])
    await page.mouse.up()


def _nudge(dx: float, dy: float, by: float = 4.0) -> tuple[float, float]:
    """A step of `by` pixels in the direction (dx, dy); down and right when there is none."""
    length = (dx * dx + dy * dy) ** 0.5
    if length < 1:
        return by, by
    return dx / length * by, dy / length * by


# Selects the first occurrence of `want` in the element's text, whitespace-insensitively
# (an observation collapses whitespace, the DOM may not), with a DOM Range; in a form field,
# with setSelectionRange. A mouseup follows, as after a person's selection, for pages that
# read the selection then. Returns what the document now has selected (null: not found).
SELECT_TEXT = """(el, want) => {
  const squash = s => s.replace(/\\s+/g, ' ').trim();
  if (want === null) {  // all of the element's text
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) want = el.value;
    else {
      const host = el.closest('[contenteditable=""], [contenteditable="true"]');
      if (host) host.focus();
      const range = document.createRange(); range.selectNodeContents(el);
      const selection = window.getSelection();
      selection.removeAllRanges(); selection.addRange(range);
      el.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
      return selection.toString();
    }
  }
  want = squash(want);
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
    const at = el.value.indexOf(want);
    if (at < 0) return null;
    el.focus(); el.setSelectionRange(at, at + want.length);
    el.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
    return el.value.slice(el.selectionStart, el.selectionEnd);
  }
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let flat = '';
  const where = [];  // for each character of flat: [text node, offset]
  while (walker.nextNode()) {
    const node = walker.currentNode;
    for (let i = 0; i < node.data.length; i++) {
      const c = node.data[i];
      if (/\\s/.test(c)) { if (!flat || flat.endsWith(' ')) continue; flat += ' '; }
      else flat += c;
      where.push([node, i]);
    }
  }
  const at = flat.indexOf(want);
  if (at < 0) return null;
  // Inside an editor, the editor takes focus first: keys pressed next (Control+b) reach it.
  const host = el.closest('[contenteditable=""], [contenteditable="true"]');
  if (host) host.focus();
  const [startNode, startOffset] = where[at];
  const [endNode, endOffset] = where[at + want.length - 1];
  const range = document.createRange();
  range.setStart(startNode, startOffset);
  range.setEnd(endNode, endOffset + 1);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  (startNode.parentElement || el).dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
  return selection.toString();
}"""


async def select_text(el: Locator, want: str | None, timeout: float) -> None:
    """Highlight `want` inside the element (None: all its text); the selection read back
    must be that text."""
    await el.scroll_into_view_if_needed(timeout=timeout)
    got = await el.evaluate(SELECT_TEXT, want)
    if got is None:
        raise GestureFailed(f"{(want or '')[:80]!r} is not in the element's text")
    if want is None:
        if not str(got).strip():
            raise GestureFailed("the element has no text to select")
    elif " ".join(str(got).split()) != " ".join(want.split()):
        raise GestureFailed(f"selected {str(got)[:80]!r} instead of {want[:80]!r}")


# The control's own value: a form field's, else aria-valuenow (null: it has none).
READ_VALUE = """el => {
  if ('value' in el && el.tagName !== 'BUTTON' && el.tagName !== 'LI') return String(el.value);
  return el.getAttribute('aria-valuenow');
}"""
READ_TEXT = "el => (el.value !== undefined && el.tagName === 'INPUT') ? el.value : el.innerText"


async def set_value(
    page: Page, el: Locator, target: float, shown_by: Locator | None, timeout: float
) -> None:
    """Set a slider, spinner or number field to `target` and verify it by reading it back.

    A field that takes typing is filled; otherwise the control is focused and walked one
    keyboard step at a time toward the target (every slider widget answers the arrow keys),
    reading its value after each step: from the control itself, or from `shown_by` (the
    element that displays a slider's value when the slider has none of its own).
    """

    async def read() -> float | None:
        if shown_by is not None:
            return parse_number(str(await shown_by.evaluate(READ_TEXT) or ""))
        raw = await el.evaluate(READ_VALUE)
        return None if raw is None else parse_number(str(raw))

    kind = await el.evaluate(
        "el => el.tagName === 'INPUT' ? el.type : (el.getAttribute('role') || '')"
    )
    if kind in ("number", "text", "tel"):
        await el.fill(_number_text(target), timeout=timeout)
        if _same(await read(), target):
            return
    up, down = (
        ("ArrowUp", "ArrowDown")
        if kind in ("number", "spinbutton")
        else (
            "ArrowRight",
            "ArrowLeft",
        )
    )
    await el.focus(timeout=timeout)
    value = await read()
    if value is None:
        raise GestureFailed(
            "the control shows no value to set: name the element that displays it (target_element)"
        )
    for _ in range(MAX_VALUE_STEPS):
        if _same(value, target):
            return
        await page.keyboard.press(up if value < target else down)
        now = await read()
        if now is None or _same(now, value):
            raise GestureFailed(
                f"the value stays at {_number_text(value)}: cannot reach {_number_text(target)}"
            )
        if (value < target) != (now < target) and not _same(now, target):
            raise GestureFailed(
                f"the steps jump past {_number_text(target)} "
                f"({_number_text(value)} -> {_number_text(now)})"
            )
        value = now
    raise GestureFailed(f"{_number_text(target)} is more than {MAX_VALUE_STEPS} steps away")


def _same(value: float | None, target: float) -> bool:
    return value is not None and abs(value - target) < 1e-9


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)

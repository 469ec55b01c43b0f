"""Waiting, in the page, for a number it shows to meet a condition (the `click_when` gesture).

A value that changes faster than a decision is made (a ticker, a countdown, a price that
moves every 100 ms) cannot be acted on by observing, deciding and then clicking: by the time
the click lands the value has moved. So the condition is checked inside the page, on every
change of the element that shows the value, and the action follows the moment it holds.
"""

from __future__ import annotations

from playwright.async_api import Locator

# Resolves true right after a change that makes the condition hold (the most time before the
# next change), or, when the value already holds and nothing changes it for `quiet` ms (a
# value that is not moving), then; false when `limit` ms pass first.
UNTIL_HOLDS = """(el, [op, bound, quiet, limit]) => new Promise((resolve) => {
  const shown = () => {
    const t = (el.value !== undefined && el.value !== '' ? String(el.value)
      : (el.innerText || el.textContent || '')).replace(/,/g, '').replace(/\\u2212/g, '-');
    const m = t.match(/-?\\d+(?:\\.\\d+)?/);
    return m ? parseFloat(m[0]) : null;
  };
  const holds = () => {
    const v = shown();
    if (v === null) return false;
    switch (op) {
      case '<': return v < bound;
      case '<=': return v <= bound;
      case '>': return v > bound;
      case '>=': return v >= bound;
      case '=': return v === bound;
      default: return v !== bound;
    }
  };
  let still = null;
  const end = (ok) => {
    seen.disconnect(); clearTimeout(still); clearTimeout(cap); resolve(ok);
  };
  const seen = new MutationObserver(() => { if (holds()) end(true); else clearTimeout(still); });
  seen.observe(el, {childList: true, subtree: true, characterData: true, attributes: true});
  const cap = setTimeout(() => end(false), limit);
  if (holds()) still = setTimeout(() => end(true), quiet);
})"""

# A value that holds and has not changed for this long is not moving: act on it.
QUIET_MS = 300


async def until_holds(value: Locator, op: str, bound: float, limit_ms: int) -> bool:
    """Whether the number `value` shows met `op bound` within `limit_ms` (returns at once
    when it does); see UNTIL_HOLDS for when a value that already holds counts."""
    held: bool = await value.evaluate(
        UNTIL_HOLDS, [op, bound, QUIET_MS, limit_ms], timeout=limit_ms + 2000
    )
    return held

"""Finding a hidden spot by the page's feedback: "find and click on the HOT area", where
moving the pointer over an area makes the page say how near it is ("ice cold", "cold",
"warm", "hot"). A bounded search any "find the X by feedback" goal can use.

Nothing is assumed about the distances each word stands for, only that a hotter word means
nearer: every pair of readings (p hotter than q) says the spot is nearer p than q, a half
plane. Each probe goes to the spot still possible that is farthest from every probe so far, so the
probes cover what is left ever more finely while hotter readings cut it down. Once the page
says the word the goal asks for, the spot is clicked there.

The model is stateless: each probe's reason carries every reading so far ("12,40=cold"),
so the next decision reads them back from the history.
"""

from __future__ import annotations

import re

import numpy as np

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.skills.compute import SEARCH
from macrohard.planner_model.web_planner.text import norm

# Readings from coldest to hottest; words on one rung mean the same.
SCALE: tuple[tuple[str, ...], ...] = (
    ("freezing", "ice cold", "icy", "frozen"),
    ("very cold",),
    ("cold",),
    ("cool", "chilly"),
    ("lukewarm", "tepid"),
    ("warm",),
    ("warmer", "very warm"),
    ("hot",),
    ("very hot", "burning", "boiling", "on fire"),
)
RANK = {word: i for i, words in enumerate(SCALE) for word in words}
MAX_PROBES = 30
GRID = 2  # candidate spots every GRID pixels
_FEEL = re.compile(r"(-?\d+),(-?\d+)=([a-z ]+)")
_GOAL = re.compile(
    r"(?:find\s+and\s+)?(?:click|tap|press)\s+(?:on\s+)?the\s+(.+?)\s+"
    r"(?:area|spot|place|point|region|zone)$",
    re.I,
)


@clause(43)
def feedback_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Find and click on the HOT area': the spot where the page's reading is 'hot'."""
    if (m := _GOAL.match(c)) is None:
        return None
    word = norm(unq(m.group(1), q))
    return [Step(kind="find_by_feedback", value=word)] if word in RANK else None


def reading(elements: list[PageElement]) -> str:
    """The page's current reading: a text that is wholly one word of the scale."""
    for e in elements:
        t = norm(e.text or e.name)
        if t in RANK:
            return t
    return ""


def felt(own: list[PastStep]) -> list[tuple[int, int, str]]:
    """Every reading recorded so far, from the newest probe's reason."""
    for h in reversed(own):
        if h.intent.action == "hover":
            return [(int(x), int(y), w.strip()) for x, y, w in _FEEL.findall(h.intent.reason)]
    return []


def next_probe(w: int, h: int, readings: list[tuple[int, int, str]]) -> tuple[int, int]:
    """Where to feel next inside a w x h area, given the readings (x, y, word) so far."""
    xs, ys = np.meshgrid(np.arange(1, w, GRID), np.arange(1, h, GRID))
    cx, cy = xs.ravel().astype(float), ys.ravel().astype(float)
    ok = np.ones(cx.shape, dtype=bool)
    dist = [np.hypot(cx - x, cy - y) for x, y, _ in readings]
    for i, (_, _, a) in enumerate(readings):
        for j, (_, _, b) in enumerate(readings):
            if RANK[a] > RANK[b]:
                ok &= dist[i] < dist[j]
    if not ok.any():  # readings that contradict each other (a page that moved its spot)
        ok[:] = True
    px, py = cx[ok], cy[ok]
    # Feel where nothing has been felt yet among the spots still possible: the one farthest
    # from every probe, the area's edges counting as half a probe away (discs of feeling
    # cover an area best from inside it).
    edge = 2 * np.minimum(np.minimum(px, w - px), np.minimum(py, h - py))
    nearest = np.min(np.stack([edge, *(np.hypot(px - x, py - y) for x, y, _ in readings)]), 0)
    k = int(np.argmax(nearest))
    return int(px[k]), int(py[k])


def _area(ctx: Ctx) -> PageElement | None:
    """The area felt over: the largest text-less box on the page."""
    boxes = [e for e in ctx.view.elements if e.shape == "box" and e.box is not None and not e.text]
    return max(boxes, key=lambda e: e.box.w * e.box.h if e.box else 0, default=None)


@skill("find_by_feedback")
def find_by_feedback(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if any(h.ok and h.intent.action == "click_at" for h in own):
        return None
    area = _area(ctx)
    if area is None or area.box is None:
        return Intent(action="fail", reason="no area on the page to feel over")
    readings = felt(own)
    last = next((h for h in reversed(own) if h.intent.action == "hover"), None)
    now = reading(ctx.view.elements)
    if last is not None and last.intent.x is not None and last.intent.y is not None and now:
        x, y = last.intent.x, last.intent.y
        readings = [*readings, (x, y, now)]
        if RANK[now] >= RANK[step.value]:
            why = f"the page says {now!r} at ({x},{y})"
            return Intent(action="click_at", element=area.id, x=x, y=y, reason=why)
    probes = sum(1 for h in own if h.intent.action == "hover")
    if probes >= MAX_PROBES:
        return Intent(action="fail", reason=f"no {step.value!r} reading in {probes} probes")
    x, y = next_probe(area.box.w, area.box.h, readings)
    record = "; ".join(f"{px},{py}={r}" for px, py, r in readings)
    return Intent(
        action="hover",
        element=area.id,
        x=x,
        y=y,
        reason=f"{SEARCH} feel {say(area)} at ({x},{y}); felt: {record}",
    )

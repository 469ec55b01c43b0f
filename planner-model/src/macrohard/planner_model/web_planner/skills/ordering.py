"""Order by dragging: move an item to a position, sort a list, drop an item onto a target,
click items in a numeric order.

"Drag Kim to the 2nd position", "drag Lee up by one position", "sort the numbers in
increasing order", "drag the file into the trash", "click the numbers in ascending order".
A list is the items stacked under one another (same left edge, same kind of element); the
page's own order after each drag is read back from the observation, so every decision moves
one item one step nearer the goal and the next observation says what is left.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.page import INTERACTIVE, PageView, center
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, explore, say, skill
from macrohard.planner_model.web_planner.text import norm, ordinal

NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_WHERE = re.compile(
    r"drag\s+(?:the\s+)?(.+?)\s+(?:(to\s+the\s+top|to\s+the\s+bottom)|to\s+the\s+(\w+)\s+position"
    r"|(up|down)\s+by\s+(\w+)\s+positions?)$",
    re.I,
)
_ONTO = re.compile(r"drag\s+(?:the\s+)?(.+?)\s+(?:in)?to\s+(?:the\s+)?(.+)$", re.I)
_SORT = re.compile(r"(?:sort|order|arrange)\s+(?:the\s+)?(.+)$", re.I)
_CLICK_ORDER = re.compile(
    r"click\s+(?:on\s+)?(?:the\s+|all\s+)?(?:\w+\s+)?in\s+(ascending|descending|increasing|"
    r"decreasing)\s+order$",
    re.I,
)
DESCENDING = re.compile(r"\b(decreasing|descending|largest first|highest\b.*\btop)\b", re.I)


@clause(35)
def order_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := _WHERE.match(c):
        item = unq(m.group(1), q)
        if m.group(2):
            where = "top" if "top" in m.group(2).lower() else "bottom"
            return [Step(kind="reorder", target=item, value=where)]
        if m.group(3):
            return [Step(kind="reorder", target=item, value="at", ordinal=ordinal(m.group(3)) or 0)]
        by = ordinal(m.group(5)) or (1 if m.group(5).lower() == "one" else 0)
        return [Step(kind="reorder", target=item, value=m.group(4).lower(), ordinal=by)]
    if m := _ONTO.match(c):
        return [Step(kind="drag_to", target=unq(m.group(1), q), alt_target=unq(m.group(2), q))]
    if m := _CLICK_ORDER.match(c):
        down = m.group(1).lower() in ("descending", "decreasing")
        return [Step(kind="click_in_order", value="desc" if down else "asc")]
    if (m := _SORT.match(c)) and re.search(r"\border\b|\bfrom\b.*\bto\b|\bfirst\b", c, re.I):
        return [Step(kind="sort", value="desc" if DESCENDING.search(c) else "asc")]
    return None


def _key(e: PageElement) -> str:
    return (e.text or e.name).strip()


def stacked_with(view: PageView, item: PageElement) -> list[PageElement]:
    """The list `item` is in: same kind of element, same left edge, top to bottom."""
    assert item.box is not None
    x = item.box.x
    peers = [
        e
        for e in view.elements
        if e.box is not None and e.tag == item.tag and e.role == item.role and _key(e)
        and abs(e.box.x - x) <= 3 and abs(e.box.w - item.box.w) <= 8
    ]  # fmt: skip
    return sorted(peers, key=lambda e: center(e)[1])


def _find(view: PageView, name: str) -> PageElement | None:
    exact = [e for e in view.elements if norm(_key(e)) == norm(name) and e.box is not None]
    if exact:
        return exact[-1]  # the innermost holder of the text (document order)
    cands = view.ground(name)
    return cands[0][1] if cands and cands[0][0] >= 0.6 and cands[0][1].box is not None else None


def _move(item: PageElement, onto: PageElement, down: bool, why: str) -> Intent:
    """Drop just past the middle of the item whose place it takes, on the far side."""
    assert onto.box is not None
    y = max(1, round(onto.box.h * (0.85 if down else 0.15)))
    return Intent(
        action="drag",
        element=item.id,
        target_element=onto.id,
        x=max(1, onto.box.w // 2),
        y=y,
        reason=why,
    )


@skill("reorder")
def reorder(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    item = _find(ctx.view, step.target)
    if item is None:
        return explore(step.target, ctx, own)
    items = stacked_with(ctx.view, item)
    i = next(k for k, e in enumerate(items) if e.id == item.id)
    wanted = {
        "top": 0,
        "bottom": len(items) - 1,
        "at": step.ordinal - 1,
        "up": i - step.ordinal,
        "down": i + step.ordinal,
    }[step.value]
    j = min(max(wanted, 0), len(items) - 1)
    if i == j or sum(h.ok for h in own) >= 3:
        return None
    return _move(item, items[j], j > i, f"move {say(item)} from place {i + 1} to {j + 1}")


def _value(e: PageElement) -> float | str:
    text = _key(e)
    return float(text) if NUMBER.fullmatch(text) else text.lower()


@skill("sort")
def sort(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    lists: dict[tuple[int, str], list[PageElement]] = {}
    for e in ctx.view.elements:
        if e.box is not None and NUMBER.fullmatch(_key(e)):
            lists.setdefault((e.box.x, e.tag), []).append(e)
    if not lists:
        return Intent(action="fail", reason="no list of numbers to sort on the page")
    longest = max(lists.values(), key=lambda group: len(group))
    items = sorted(longest, key=lambda e: center(e)[1])
    want = sorted(items, key=_value, reverse=step.value == "desc")
    if sum(h.intent.action == "drag" for h in own) >= 2 * len(items):
        return None
    for p, (have, should) in enumerate(zip(items, want, strict=True)):
        if _value(have) != _value(should):
            q = items.index(should)
            return _move(should, items[p], q < p, f"sort: {_key(should)} to place {p + 1}")
    return None


@skill("drag_to")
def drag_to(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if any(h.ok and h.intent.action == "drag" for h in own):
        return None
    item, target = _find(ctx.view, step.target), _find(ctx.view, step.alt_target)
    if item is None or target is None:
        return explore(step.target if item is None else step.alt_target, ctx, own)
    why = f"drag {say(item)} onto {say(target)}"
    return Intent(action="drag", element=item.id, target_element=target.id, reason=why)


PLAN = re.compile(r"(\S+)@(\d+),(\d+)")


@skill("click_in_order")
def click_in_order(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    """Click numbered things in order. The whole order, with where each thing is, is fixed
    on the first decision and carried in that intent's reason: pages that hide what was
    clicked (or everything, once the first is clicked) are still walked from memory."""
    plan = PLAN.findall(own[0].intent.reason) if own else []
    if not plan:
        numbers = [e for e in ctx.view.elements if NUMBER.fullmatch(_key(e))]
        # Things drawn or made to be clicked, not a figure in a status line.
        picked = [e for e in numbers if e.shape or e.role in INTERACTIVE] or numbers
        if not picked:
            return Intent(action="fail", reason="no numbered items on the page")
        order = sorted(picked, key=_value, reverse=step.value == "desc")
        where = [f"{_key(e)}@{round(center(e)[0])},{round(center(e)[1])}" for e in order]
        first = order[0]
        return Intent(action="click", element=first.id, reason="in order: " + " ".join(where))
    done = sum(h.ok for h in own)
    if done >= len(plan):
        return None
    text, x, y = plan[done]
    seen = [e for e in ctx.view.elements if _key(e) == text and NUMBER.fullmatch(text)]
    if seen:
        return Intent(action="click", element=seen[0].id, reason=f"next in order: {text}")
    return Intent(
        action="click_at", x=int(x), y=int(y), reason=f"next in order: {text}, where it was"
    )

"""Choices made by comparing what the page shows: "buy the ticket with the cheapest cost"
(the control whose record holds the extreme value), "the card with the greatest number"
(cards that hide their values are turned over one by one)."""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause
from macrohard.planner_model.web_planner.page import PageView, center
from macrohard.planner_model.web_planner.reason import duration_s, extreme, numbers_in, show
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, clicked, say, skill
from macrohard.planner_model.web_planner.skills.compute import NUMBER_ONLY
from macrohard.planner_model.web_planner.text import norm

CONTROL_ROLES = frozenset({"button", "link", "menuitem", "option", "radio", "checkbox"})
MONEY = frozenset({"cost", "price", "cheapest", "expensive", "priciest", "fare", "amount"})
TIME = frozenset({"duration", "time", "shortest", "longest", "length"})
SUBMIT_WORDS = frozenset({"submit", "ok", "cancel", "next", "prev", "previous", "<", ">"})


@clause(22)
def extreme_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Buy the ticket with the cheapest cost', 'pick the item with the highest price'."""
    if m := re.match(
        r"(?:buy|book|pick|choose|select|click(?:\s+on)?|order|purchase|press)\s+the\s+"
        r"(\w+)\s+(?:with|that\s+has|having)\s+the\s+(most\s+\w+|\w+)(?:\s+(\w+))?\s*$",
        c,
        re.I,
    ):
        words = m.group(2).lower().split()
        way = extreme(words[-1] if words[0] != "most" else "most")
        if way is None:
            return None
        attribute = (m.group(3) or words[-1]).lower()
        if words[0] == "most" and words[-1] in ("expensive", "costly"):
            attribute = "cost"
        return [Step(kind="extreme", target=m.group(1), value=way, kind_hint=attribute)]
    return None


def _records(view: PageView, controls: list[PageElement]) -> list[list[PageElement]]:
    """Each control's record: the elements after the previous control, up to and including
    it, in document order (a card or a row that ends with its button)."""
    out, start = [], 0
    order = view.elements
    for c in controls:
        end = order.index(c)
        out.append(order[start : end + 1])
        start = end + 1
    return out


def measure(record: list[PageElement], attribute: str) -> float | None:
    """The value of `attribute` (a cost, a duration, a number) a record shows."""
    texts = [(e.text or e.name or "") for e in record]
    if attribute in TIME:
        found = [d for t in texts if (d := duration_s(t)) is not None]
        return found[0] if found else None
    if attribute in MONEY:
        money = [numbers_in(t[t.index("$") :])[0] for t in texts if "$" in t and numbers_in(t)]
        if money:
            return money[0]
    nums = [n for t in texts for n in numbers_in(t)]
    return nums[0] if nums else None


@skill("extreme")
def pick_extreme(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if any(h.ok and h.intent.reason.startswith("pick") for h in own) or (
        clicked(own) and not any(h.intent.reason.startswith("reveal") for h in own)
    ):
        return None
    view = ctx.view
    controls = [
        e
        for e in view.elements
        if e.role in CONTROL_ROLES and not e.disabled and norm(e.text or e.name) not in SUBMIT_WORDS
    ]
    scored = [
        (v, c)
        for c, rec in zip(controls, _records(view, controls), strict=True)
        if (v := measure(rec, step.kind_hint)) is not None
    ]
    if len(scored) < 2:
        cards = face_down(view)
        if len(cards) >= 2:
            return _reveal_and_pick(step, cards, own)
        return Intent(action="fail", reason=f"no {step.target}s to compare by {step.kind_hint}")
    pick = min if step.value == "min" else max
    value, best = pick(scored, key=lambda vc: vc[0])
    return Intent(
        action="click",
        element=best.id,
        reason=f"pick the {step.value} {step.kind_hint} ({show(value)}): {say(best)}",
    )


def face_down(view: PageView) -> list[PageElement]:
    """Look-alike items that may hide their values (cards): elements of one size, each
    blank or showing a number, plus a number shown in their row (one turned over shows
    its value in an element of its own), in reading order."""
    sizes: dict[tuple[int, int], list[PageElement]] = {}
    for e in view.elements:
        text = (e.text or e.name or "").strip()
        if e.box is None or e.role in CONTROL_ROLES or len(text) > 12:
            continue
        if text and not NUMBER_ONLY.fullmatch(text):
            continue
        sizes.setdefault((int(e.box.w), int(e.box.h)), []).append(e)
    groups = [g for g in sizes.values() if len(g) >= 2]
    if not groups:
        return []
    cards = max(groups, key=len)
    top = min(b.box.y for b in cards if b.box is not None)
    bottom = max(b.box.y + b.box.h for b in cards if b.box is not None)
    shown = [
        e
        for e in view.elements
        if e.role not in CONTROL_ROLES
        and e not in cards
        and NUMBER_ONLY.fullmatch((e.text or "").strip())
        and top <= center(e)[1] <= bottom
    ]
    return sorted(cards + shown, key=lambda e: center(e)[0])


def _reveal_and_pick(step: Step, cards: list[PageElement], own: list[PastStep]) -> Intent | None:
    """Turn each card over (one shows at a time), note what it showed in the next reason,
    then turn over the one with the extreme value; None once that one is showing."""
    seen: dict[int, float] = {}
    for h in own:
        for k, v in re.findall(r"(\d+)=(-?[\d.]+)", h.intent.reason):
            seen[int(k)] = float(v)
    for k, e in enumerate(cards):
        nums = numbers_in(e.text or e.name or "")
        if nums:
            seen[k] = nums[0]
    notes = " ".join(f"{k}={show(v)}" for k, v in sorted(seen.items()))
    hidden = [k for k in range(len(cards)) if k not in seen]
    if hidden:
        k = hidden[0]
        return Intent(action="click", element=cards[k].id, reason=f"reveal #{k}; seen {notes}")
    pick = min if step.value == "min" else max
    k = pick(seen, key=lambda i: seen[i])
    last = next((h for h in reversed(own) if h.ok and h.intent.action == "click"), None)
    if last is not None and re.match(rf"(?:reveal|pick) #{k}\b", last.intent.reason):
        return None  # it is the one turned over last
    return Intent(
        action="click", element=cards[k].id, reason=f"reveal #{k} to pick it; seen {notes}"
    )

"""Orders on a menu or a shop list where each item has its own quantity stepper ("-" / "+").

"Order one of each item: A, B and C" presses the "+" of each named item once; "order 3
items that are vegan", "buy two gluten-free dishes", "add 2 products labelled organic"
presses the "+" of items whose record carries that label (a tag, an icon's name, a word
of its description) until the quantity is reached, one of each while there are enough;
then the order control. An item's record is what the page shows between the previous
stepper and its own, in reading order (its name, its tags, its "-"), so a label is tied
to its item whatever the layout's sections. Names may hold "and" ("Salt and pepper
chips"): a list is split at commas, and at "and" only where the page has no item named
by the whole phrase. Progress is the history's own presses, so the model stays stateless.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.page import PageView, center
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, clicked, say, skill
from macrohard.planner_model.web_planner.text import norm, stem, words

PLUS = frozenset({"+", "add", "increase", "more", "\u2795"})
COUNTS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "a couple of": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_VERB = r"(order|add|buy|get|pick|choose|select|purchase)"
_COUNT = r"(\d+|" + "|".join(sorted(COUNTS, key=len, reverse=True)) + ")"
_THINGS = r"(?:items?|dish(?:es)?|products?|things?|meals?|ones?|options?)"
_EACH = re.compile(
    rf"{_VERB}\s+one\s+of\s+each(?:\s+(?:item|product|dish|of\s+these|of))?\s*:?\s*(.+)$", re.I
)
_KIND_AFTER = re.compile(
    rf"{_VERB}\s+{_COUNT}\s+(?:different\s+)?{_THINGS}\s+(?:that\s+(?:are|is|contain)|which\s+(?:are|is|contain)|containing|with|labell?ed(?:\s+as)?|tagged(?:\s+as)?|marked(?:\s+as)?)\s+(.+)$",
    re.I,
)
_KIND_BEFORE = re.compile(rf"{_VERB}\s+{_COUNT}\s+(?:different\s+)?(.+?)\s+{_THINGS}$", re.I)


@clause(24)
def order_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Order one of each item: A, B', 'order 3 items that are vegan', 'buy two vegan dishes'."""
    if m := _EACH.match(c):
        return [
            Step(kind="order_items", value=unq(m.group(2), q)),
            Step(kind="order_send", target=m.group(1).lower()),
        ]
    if m := _KIND_AFTER.match(c) or _KIND_BEFORE.match(c):
        count = m.group(2).lower()
        label = unq(m.group(3), q).strip()
        return [
            Step(
                kind="order_kind",
                value=label,
                ordinal=int(count) if count.isdigit() else COUNTS[count],
            ),
            Step(kind="order_send", target=m.group(1).lower()),
        ]
    return None


def steppers(view: PageView) -> list[tuple[PageElement, list[PageElement]]]:
    """Each "+" control in reading order with its record (the elements since the last one)."""
    out: list[tuple[PageElement, list[PageElement]]] = []
    record: list[PageElement] = []
    for e in view.elements:
        if (e.text or e.name).strip().lower() in PLUS:
            out.append((e, record))
            record = []
        else:
            record.append(e)
    return out


def _phrase(s: str) -> list[str]:
    return [stem(w) for w in words(s.replace("-", " "))]


def labelled(record: list[PageElement], label: str) -> bool:
    """Does any element of the record say `label` (as words, in order)?"""
    want = _phrase(label)
    if not want:
        return False
    for e in record:
        for text in (e.name, e.text):
            have = _phrase(text)
            if any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1)):
                return True
    return False


def item_names(view: PageView, listed: str) -> list[str]:
    """The items a list names: split at commas, and at "and" unless the page has an item
    called by the whole phrase."""
    shown = {norm(e.text or e.name) for e in view.elements}
    out: list[str] = []
    for part in re.split(r"\s*,\s*(?:and\s+)?", listed.strip().rstrip(".")):
        if not part:
            continue
        if norm(part) in shown or " and " not in part:
            out.append(part)
        else:
            out.extend(p for p in re.split(r"\s+and\s+", part) if p)
    return out


def _plus_of(view: PageView, item: PageElement) -> PageElement | None:
    for plus, record in steppers(view):
        if any(e.id == item.id for e in record):
            return plus
    if item.box is None:
        return None
    row = [
        e
        for e in view.elements
        if (e.text or e.name).strip().lower() in PLUS
        and e.box is not None
        and abs(e.box.y - item.box.y) <= max(item.box.h, 14) / 2 + 4
        and center(e)[0] > center(item)[0]
    ]
    return min(row, key=lambda e: center(e)[0]) if row else None


def _pressed(own: list[PastStep]) -> list[str]:
    return [h.intent.reason for h in own if h.ok and h.intent.action == "click"]


@skill("order_items")
def order_items(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    done = _pressed(own)
    for name in item_names(view, step.value):
        reason = f"one more {name!r}"
        if reason in done:
            continue
        exact = [e for e in view.elements if norm(e.text or e.name) == norm(name)]
        items = exact or [e for s, e in view.ground(name) if s >= 0.9]
        plus = next((p for p in (_plus_of(view, e) for e in items) if p is not None), None)
        if plus is None:
            return Intent(action="fail", reason=f"no '+' beside {name!r}")
        return Intent(action="click", element=plus.id, reason=reason)
    return None


@skill("order_kind")
def order_kind(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    done = _pressed(own)
    if len(done) >= step.ordinal:
        return None
    fitting = [
        (plus, record) for plus, record in steppers(ctx.view) if labelled(record, step.value)
    ]
    if not fitting:
        # Labels are often icons, laid out only once their images load: look again first.
        if sum(h.intent.action == "wait_for" for h in own) < 2:
            return Intent(action="wait_for", wait_ms=500, reason=f"wait for labels {step.value!r}")
        return Intent(action="fail", reason=f"no item on the page is labelled {step.value!r}")
    # One of each fitting item first; more of them only when there are not enough.
    plus, record = fitting[len(done) % len(fitting)]
    named = next(
        (e for e in record if e.text and e.role != "heading" and not labelled([e], step.value)),
        plus,
    )
    return Intent(
        action="click",
        element=plus.id,
        reason=f"{step.value} {len(done) + 1} of {step.ordinal}: one more {say(named)}",
    )


# The goal itself says how the order is sent ("... then click Place order").
_SENT_BY_GOAL = re.compile(r"\b(?:click|press|hit|tap|submit|place|check\s*out)\b", re.I)
SEND_NAMES = ("order", "place order", "checkout", "check out", "buy", "purchase", "submit")


@clause(24)
def send_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Place the order', 'submit your order', 'check out', 'complete the purchase'."""
    if re.match(
        r"(?:(?:place|send|submit|complete|confirm|finish)\s+(?:the|your|my)\s+(?:order|purchase)"
        r"|check\s*out)$",
        c,
        re.I,
    ):
        return [Step(kind="order_send", target="place order", value="asked")]
    return None


@skill("order_send")
def order_send(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    """Send the order with the page's order control (named by the goal's verb, else an
    order/checkout/submit control). A step the goal only implies is left to the goal's
    own words when it says how to send the order ("... then click Place order")."""
    if clicked(own) or (step.value != "asked" and _SENT_BY_GOAL.search(ctx.goal)):
        return None
    for name in (step.target, *SEND_NAMES):
        found = [e for s, e in ctx.view.ground(name) if s >= 0.9 and e.role in ("button", "link")]
        if found:
            return Intent(
                action="click", element=found[0].id, reason=f"send the order: {say(found[0])}"
            )
    return None

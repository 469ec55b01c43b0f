"""A view of one observation for grounding: what is actionable, how each thing is labelled."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.planner_model.web_planner.text import norm, similarity, words

Embed = Callable[[list[str]], "npt.NDArray[np.float32]"]
"""Texts -> L2-normalised sentence embeddings, one row per text (all-MiniLM-L6-v2 on the node)."""

FIELD_ROLES = frozenset({"textbox", "searchbox", "date", "spinbutton", "email", "password"})
INTERACTIVE = frozenset(
    {
        "button",
        "link",
        "tab",
        "checkbox",
        "radio",
        "textbox",
        "combobox",
        "option",
        "menuitem",
        "treeitem",
        "switch",
        "searchbox",
        "date",
        "spinbutton",
        "listbox",
    }
)
KIND_ROLES = {
    "button": {"button"},
    "link": {"link"},
    "tab": {"tab", "presentation", "link"},
    "checkbox": {"checkbox"},
    "option": {"option", "radio", "menuitem"},
    "menu": {"menuitem"},
    "textbox": FIELD_ROLES,
    "field": FIELD_ROLES,
    "box": FIELD_ROLES | {"checkbox"},
}
# Conventions of web UIs, not of any task: an "x" closes, a bin deletes, a star marks.
SYNONYMS = {
    "x": ["close", "\u00d7", "✕"],
    "close": ["x", "\u00d7"],
    "trash": ["delete", "remove", "bin"],
    "delete": ["trash", "remove"],
    "star": ["important", "favorite"],
    "send": ["submit"],
    "ok": ["okay"],
    "submit": ["send", "ok", "done"],
    "login": ["log in", "sign in"],
}


def center(e: PageElement) -> tuple[float, float]:
    if e.box is None:
        return (0.0, 0.0)
    return (e.box.x + e.box.w / 2, e.box.y + e.box.h / 2)


def inside(inner: PageElement, outer: PageElement) -> bool:
    if inner.box is None or outer.box is None:
        return False
    cx, cy = center(inner)
    b = outer.box
    return b.x <= cx <= b.x + b.w and b.y <= cy <= b.y + b.h


def describe(e: PageElement) -> str:
    return e.name or e.text or (e.value or "")


def kind_words(e: PageElement) -> set[str]:
    """What a person would call this widget: 'button', 'textarea', 'text', 'link', ..."""
    ws = {e.role, e.tag}
    if e.role in FIELD_ROLES and e.tag == "input":
        ws |= {"text", "input", "textbox", "field"}
    if e.tag == "textarea":
        ws |= {"textarea", "text area"}
    if e.tag == "a":
        ws.add("link")
    if e.role in ("radio",):
        ws |= {"radio button", "radio"}
    if e.role == "combobox" or e.tag == "select":
        ws |= {"dropdown", "select", "list"}
    return {w for w in ws if w}


class PageView:
    """The page minus the instruction panel that restates the goal (it is not part of the work)."""

    def __init__(self, obs: PageObservation, goal: str, embed: Embed | None = None) -> None:
        self.obs = obs
        self.embed = embed
        goal_words = set(words(goal))
        panel: PageElement | None = None
        for e in obs.elements:
            ws = words(e.text or e.name)
            # A panel restating the goal is made of the goal's words *and* carries most of
            # them: a label that merely quotes part of the goal ("Needs a laptop") is a
            # control to act on, not the instructions.
            if (
                len(ws) >= 3
                and sum(w in goal_words for w in ws) / len(ws) >= 0.8
                and len(set(ws) & goal_words) >= 0.6 * len(goal_words)
            ):
                panel = e
                break
        # An element without a box is not rendered (a hidden form, a closed menu): a person
        # cannot act on it, so neither do we (unless the observer gives no boxes at all).
        boxed = any(e.box is not None for e in obs.elements)
        self.elements: list[PageElement] = [
            e
            for e in obs.elements
            if (panel is None or (e is not panel and not inside(e, panel)))
            and (e.box is not None or not boxed)
        ]

    def by_id(self, element_id: int | None) -> PageElement | None:
        return next((e for e in self.elements if e.id == element_id), None)

    def fields(self) -> list[PageElement]:
        return [
            e
            for e in self.elements
            if (e.role in FIELD_ROLES or e.tag == "textarea") and not e.disabled
        ]

    def label(self, e: PageElement) -> str:
        """The element's accessible name, else the nearest text just left of or above it."""
        if e.name:
            return e.name
        if e.box is None:
            return ""
        best, best_d = "", 1e9
        for o in self.elements:
            if o is e or o.box is None or not (o.text or o.name) or o.role in FIELD_ROLES:
                continue
            if inside(e, o):
                continue
            dx = e.box.x - (o.box.x + o.box.w)  # gap to the left
            dy = e.box.y - (o.box.y + o.box.h)  # gap above
            same_row = abs(center(o)[1] - center(e)[1]) < max(e.box.h, 12)
            if same_row and dx >= -4:
                # Of the texts on the field's row, the one level with it: in a compact form
                # the next row's label, a little nearer, overlaps the row too.
                d = max(dx, 0) + 2 * abs(center(o)[1] - center(e)[1])
            elif -4 <= dy <= 40 and o.box.x <= e.box.x + e.box.w:
                # A label above counts only when none sits on the field's row: in a compact
                # form the next row's label can be nearer than the field's own one.
                d = dy + 1000
            else:
                continue
            if d < best_d:
                best, best_d = o.text or o.name, d
        return best

    def text_score(self, want: str, e: PageElement) -> float:
        if not want:
            return 0.0
        cands = [want, *SYNONYMS.get(norm(want), [])]
        best = 0.0
        for c in cands:
            weight = 1.0 if c == want else 0.9
            for have in (e.name, e.text, e.value or ""):
                if have:
                    exact = 1.05 if have.strip() == c.strip() else 1.0  # case matters on ties
                    best = max(best, weight * exact * similarity(c, have))
        return best

    def ground(
        self,
        target: str,
        alt: str = "",
        kind: str = "",
        near: PageElement | None = None,
        pool: Sequence[PageElement] | None = None,
    ) -> list[tuple[float, PageElement]]:
        """Candidates for a named target, best first (score in about [0, 1.2])."""
        roles = KIND_ROLES.get(kind, set())
        out: list[tuple[float, PageElement]] = []
        for e in pool if pool is not None else self.elements:
            if e.disabled:
                continue
            if kind == "widget" or (target and norm(target) in {"textarea", "checkbox", "radio"}):
                s = 1.0 if norm(target) in kind_words(e) else 0.0
                if norm(target) == "text" and e.tag == "textarea":
                    s = 0.0
            else:
                s = max(self.text_score(target, e), 0.95 * self.text_score(alt, e))
                if not target and roles and e.role in roles:
                    s = 0.6
            if s <= 0:
                continue
            if roles and e.role in roles:
                s += 0.1
            if e.role in INTERACTIVE:
                s += 0.05
            if near is not None:
                s -= abs(center(e)[1] - center(near)[1]) / 1000
            out.append((s, e))
        if self.embed is not None and target and (not out or max(s for s, _ in out) < 0.5):
            out.extend(self._semantic(target, pool))
        out.sort(key=lambda se: -se[0])
        return out

    def _semantic(
        self, target: str, pool: Sequence[PageElement] | None
    ) -> list[tuple[float, PageElement]]:
        """Meaning, not letters: 'remove' finds 'Delete'. Only when nothing matched lexically."""
        assert self.embed is not None
        cands = [e for e in (pool or self.elements) if describe(e) and e.role in INTERACTIVE]
        if not cands:
            return []
        vecs = self.embed([target, *(describe(e)[:100] for e in cands)])
        sims = vecs[1:] @ vecs[0]
        return [(float(s), e) for s, e in zip(sims, cands, strict=True) if s > 0.55]

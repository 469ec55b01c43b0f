"""Finding an item a list shows one page at a time: "find Kara in the contact book" pages
through the list (its next control) until the item is on the page; later steps are grounded
near it ("click on their address")."""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill
from macrohard.planner_model.web_planner.skills.compute import SEARCH

NEXT_NAMES = frozenset({"next", ">", "»", "\u203a", "next page", "more"})


@clause(145)
def seek_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Find Kara in the contact book': page until Kara shows, then use Kara as the anchor."""
    if m := re.match(
        r"(?:find|look\s+up|locate|search\s+for)\s+(.+?)\s+(?:in|on|among)\s+(?:the|your|my)\s+"
        r"(?:\w+\s+)?(?:book|list|directory|table|results|contacts|pages?|inbox)$",
        c,
        re.I,
    ):
        target = unq(m.group(1), q)
        return [Step(kind="seek", target=target), Step(kind="locate", target=target)]
    return None


@skill("seek")
def seek(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    if any(s >= 0.9 for s, _ in view.ground(step.target)):
        return None
    if len(own) >= 25:
        return Intent(action="fail", reason=f"{step.target!r} is on none of the pages")
    nexts = [
        e
        for e in view.elements
        if (e.text or e.name).strip().lower() in NEXT_NAMES and not e.disabled
    ]
    if not nexts:
        return Intent(action="fail", reason=f"{step.target!r} is not on the page, and no next page")
    e = nexts[0]
    return Intent(action="click", element=e.id, reason=f"{SEARCH} next page {say(e)}")

"""Mail-like verbs: "reply to X with Y" and "forward ... to Z" are a click, a fill and send."""

from __future__ import annotations

import re

from macrohard.planner_model.web_planner.grammar import Step, clause, unq


@clause(170)
def reply_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"reply\s+to\s+\w+\s+with\s+(?:the\s+)?(?:text|message)?\s*(.+)$", c, re.I):
        return [
            Step(kind="click", target="reply"),
            Step(kind="fill", value=unq(m.group(1), q), kind_hint="message"),
            Step(kind="click", target="send"),
        ]
    return None


@clause(180)
def forward_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"forward\s+(?:\w+\s+)*?(?:to)\s+(.+)$", c, re.I):
        return [
            Step(kind="click", target="forward"),
            Step(kind="fill", value=unq(m.group(1), q), kind_hint="to"),
            Step(kind="click", target="send"),
        ]
    return None

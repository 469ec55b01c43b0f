"""Parse a natural-language goal into generic steps (click, fill, check, choose, ...).

Grammar, not task lookups: a goal is split into clauses at verbs ("... and click Submit",
"..., then find ..."), and each clause is read by the first registered clause parser that
fits its verb (grammar.py; the parsers live with their skills in `skills/`).
"""

from __future__ import annotations

import re

from macrohard.planner_model.web_planner import skills
from macrohard.planner_model.web_planner.grammar import Step, StepKind, parse_clause, protect

__all__ = ["VERBS", "Step", "StepKind", "parse_goal"]

VERBS = (
    "click|select|enter|type|press|hit|choose|expand|find|use|focus|close|open|search|"
    "navigate|reply|forward|submit|check|uncheck|tap|mark|delete|fill|pick|input|write|go|"
    "paste|copy|read|wait|scroll|drag|highlight|resize|solve|buy|sort|upload|attach|extract"
)
_SPLIT = re.compile(
    rf"\s*(?:;\s+|\.\s+(?!(?-i:[a-z]))|,\s*(?:and\s+)?then\s+|\s+and\s+then\s+|\s+then\s+"
    rf"|,?\s+and\s+(?=(?:{VERBS})\b)|,\s+(?=(?:{VERBS})\b))",
    re.IGNORECASE,
)
_ = skills  # imported for its registrations: every skill's clause parsers


def parse_goal(goal: str) -> list[Step]:
    """The goal's steps in order; unknown clauses are skipped (the page may still finish it)."""
    text, quoted = protect(goal.strip())
    steps: list[Step] = []
    for clause in _SPLIT.split(text):
        clause = clause.strip().rstrip(".").strip()
        if clause:
            steps.extend(parse_clause(clause, quoted))
    return steps

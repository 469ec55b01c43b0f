"""The goal's grammar: the Step a clause becomes, and the registry of clause parsers.

A goal is split into clauses at verbs (goal.py); each clause is read by the first registered
parser, in `order`, that recognises it. Each skill module registers the parsers for its own
wording next to the handler that acts on the steps they make, so a new skill is a new module.
Quoted values are protected first (`QQ0QQ` placeholders) so their words never look like
instructions; `unq` puts them back.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

StepKind = str  # a key of the skills registry: click, fill, check, choose, wait, ...


class Step(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    kind: StepKind
    target: str = ""  # what to act on, as the goal names it
    alt_target: str = ""  # the full phrase, in case the kind word is part of the name
    kind_hint: str = ""  # button, link, tab, widget, date, password, ...
    value: str = ""
    values: list[str] = []
    ordinal: int = 0
    all_fields: bool = False
    from_copy: bool = False  # the value is what an earlier `copy` step read off the page
    case: str = ""  # "upper" | "lower": how the value must be written
    lookup: str = ""  # the value is what the page shows beside this key ("the value of X")


# (clause with placeholders, the quoted values) -> its steps; None: not this parser's wording.
# An empty list consumes the clause with no step ("wait for the page").
ClauseParser = Callable[[str, list[str]], list[Step] | None]

_CLAUSES: list[tuple[int, str, ClauseParser]] = []


def clause(order: int) -> Callable[[ClauseParser], ClauseParser]:
    """Register a clause parser; lower `order` is tried first (gaps of 10 leave room)."""

    def register(parser: ClauseParser) -> ClauseParser:
        _CLAUSES.append((order, f"{parser.__module__}.{parser.__qualname__}", parser))
        _CLAUSES.sort(key=lambda t: (t[0], t[1]))
        return parser

    return register


def parse_clause(c: str, q: list[str]) -> list[Step]:
    """The steps of one clause: the first registered parser that recognises it."""
    for _, _, parser in _CLAUSES:
        steps = parser(c, q)
        if steps is not None:
            return steps
    return []


def protect(goal: str) -> tuple[str, list[str]]:
    quoted: list[str] = []

    def keep(m: re.Match[str]) -> str:
        quoted.append(m.group(1))
        return f"QQ{len(quoted) - 1}QQ"

    return _QUOTE.sub(keep, goal), quoted


def restore(s: str, quoted: list[str]) -> str:
    return re.sub(r"QQ(\d+)QQ", lambda m: quoted[int(m.group(1))], s).strip()


def unq(s: str, quoted: list[str]) -> str:
    """Trim punctuation of the sentence, never of a quoted value ("Neque," keeps its comma)."""
    return restore(s.strip().rstrip(".,").strip(), quoted)


def names(obj: str, q: list[str]) -> list[str]:
    """'A, B and C' -> ['A', 'B', 'C']."""
    parts = re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", obj)
    return [unq(p, q) for p in parts if p.strip()]


_QUOTE = re.compile(r"[\"“”]([^\"“”]*)[\"“”]")


@clause(160)
def find_and_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Find and click X': the clause after 'find and'."""
    if m := re.match(r"find\s+and\s+(.*)$", c, re.I):
        return parse_clause(m.group(1), q)
    return None

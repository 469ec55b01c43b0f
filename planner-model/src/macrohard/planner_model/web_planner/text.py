"""Text normalisation shared by goal parsing and grounding."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9#]+(?:[.'/-][a-z0-9]+)*")
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "last": -1,
}
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "on",
        "in",
        "into",
        "to",
        "of",
        "for",
        "from",
        "with",
        "by",
        "and",
        "or",
        "then",
        "that",
        "this",
        "it",
        "its",
        "them",
        "is",
        "are",
        "be",
        "as",
        "at",
        "named",
        "called",
        "labelled",
        "labeled",
    ]
)


def norm(s: str) -> str:
    """Lower-case, collapse whitespace, trim surrounding punctuation."""
    return re.sub(r"\s+", " ", s).strip().strip(".,;:!?\"'“”").strip().lower()


def words(s: str) -> list[str]:
    return _WORD.findall(s.lower())


def ordinal(token: str) -> int | None:
    """'3rd' -> 3, 'third' -> 3, 'last' -> -1."""
    t = token.lower()
    if t in ORDINALS:
        return ORDINALS[t]
    m = re.fullmatch(r"(\d+)(?:st|nd|rd|th)", t)
    return int(m.group(1)) if m else None


def stem(w: str) -> str:
    """A crude stem: enough to relate 'directed' to 'Director' and 'passwords' to 'password'."""
    w = w.lower()
    for suf in ("ing", "ed", "or", "er", "es", "s"):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: -len(suf)]
    return w


def similarity(a: str, b: str) -> float:
    """Lexical similarity in [0, 1]: exact, containment, then token overlap on stems."""
    na, nb = norm(a), norm(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    wa, wb = words(na), words(nb)
    if not wa or not wb:
        return 0.0
    if wa == wb:
        return 0.95
    sa, sb = {stem(w) for w in wa}, {stem(w) for w in wb}
    inter = len(sa & sb)
    if inter == 0:
        return 0.0
    # How much of the wanted phrase (a) the candidate (b) covers, discounted by its extra words.
    recall = inter / len(sa)
    precision = inter / len(sb)
    return 0.85 * recall * (0.5 + 0.5 * precision)

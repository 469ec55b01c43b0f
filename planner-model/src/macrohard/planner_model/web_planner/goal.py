"""Parse a natural-language goal into generic steps (click, fill, check, choose, ...).

Grammar, not task lookups: a goal is split into clauses at verbs ("... and click Submit",
"..., then find ..."), and each clause is read by the first pattern that fits its verb.
Quoted values are protected first so their words never look like instructions.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from macrohard.planner_model.web_planner.lookup import EACH_LABEL
from macrohard.planner_model.web_planner.text import ordinal, words

StepKind = Literal[
    "copy",
    "click",
    "click_nth",
    "fill",
    "check",
    "choose",
    "expand",
    "focus",
    "locate",
    "autocomplete",
    "submit",
    "wait",
    "scroll",
    "extract",
]

KIND_WORDS = (
    "button",
    "link",
    "tab",
    "icon",
    "widget",
    "checkbox",
    "item",
    "option",
    "result",
    "folder",
    "file",
    "element",
    "menu",
    "entry",
    "box",
    "field",
    "textbox",
)


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


VERBS = (
    "click|select|enter|type|press|hit|choose|expand|find|use|focus|close|open|search|"
    "navigate|reply|forward|submit|check|uncheck|tap|mark|delete|fill|pick|input|write|go|"
    "paste|copy|read|wait|scroll|drag|highlight|resize|solve|buy|sort|extract"
)
_QUOTE = re.compile(r"[\"“”]([^\"“”]*)[\"“”]")
_SPLIT = re.compile(
    rf"\s*(?:[;.]\s+|,\s*(?:and\s+)?then\s+|\s+and\s+then\s+|\s+then\s+"
    rf"|,?\s+and\s+(?=(?:{VERBS})\b)|,\s+(?=(?:{VERBS})\b))",
    re.IGNORECASE,
)


def _protect(goal: str) -> tuple[str, list[str]]:
    quoted: list[str] = []

    def keep(m: re.Match[str]) -> str:
        quoted.append(m.group(1))
        return f"QQ{len(quoted) - 1}QQ"

    return _QUOTE.sub(keep, goal), quoted


def _restore(s: str, quoted: list[str]) -> str:
    return re.sub(r"QQ(\d+)QQ", lambda m: quoted[int(m.group(1))], s).strip()


def parse_goal(goal: str) -> list[Step]:
    """The goal's steps in order; unknown clauses are skipped (the page may still finish it)."""
    text, quoted = _protect(goal.strip())
    steps: list[Step] = []
    for clause in _SPLIT.split(text):
        clause = clause.strip().rstrip(".").strip()
        if clause:
            steps.extend(_clause(clause, quoted))
    return steps


def _unq(s: str, quoted: list[str]) -> str:
    # Trim punctuation of the sentence, never of a quoted value ("Neque," keeps its comma).
    return _restore(s.strip().rstrip(".,").strip(), quoted)


def _clause(c: str, q: list[str]) -> list[Step]:
    low = c.lower()
    # "wait 3 seconds": let the time pass (a page may check it). "wait for the X": a later
    # step that needs X is retried until it is there.
    if m := re.match(
        r"wait\s+(?:for\s+)?(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|sec|seconds?)\b", low
    ):
        seconds = float(m.group(1)) / (1000 if m.group(2).startswith("m") else 1)
        return [Step(kind="wait", value=str(seconds))]
    if re.match(r"wait\b", low):
        return []
    # "Scroll the textarea to the bottom", "scroll to the top of the list": a container (or the
    # page) scrolled to one end. What follows a run-on ("... of the text hit submit") is read on.
    if m := re.match(
        r"scroll\s+(?:down\s+|up\s+)?(?:(?:in\s+)?the\s+(\w+)\s+)?(?:all\s+the\s+way\s+)?"
        r"to\s+the\s+(bottom|top|end|start)(?:\s+of\s+(?:the\s+)?(\w+))?(.*)$",
        c,
        re.I,
    ):
        where = m.group(1) or m.group(3) or ""
        down = m.group(2).lower() in ("bottom", "end")
        rest = re.search(r"\b(?:hit|press|click)\s+(.+)$", m.group(4) or "", re.I)
        then = _click(rest.group(1), q) if rest else []
        return [Step(kind="scroll", target=where.lower(), value="down" if down else "up"), *then]
    # "Select 12/24/2016 as the date", "Set 5 as the quantity": the value of a named field.
    if m := re.match(
        r"(?:select|choose|pick|set|enter|type|input|put)\s+(.+?)\s+as\s+(?:the\s+)?(.+)$", c, re.I
    ):
        return [Step(kind="fill", value=_unq(m.group(1), q), kind_hint=_unq(m.group(2), q))]
    # "Check the 3rd radio button", "click the 2nd checkbox": the n-th widget of a kind.
    if m := re.match(
        r"(?:check|select|tick|click(?:\s+on)?|press|mark|choose|pick)\s+(?:the\s+)?"
        r"(\w+)\s+(radio(?:\s+button)?|checkbox|check\s+box|button|textbox|text\s+field|"
        r"field|link|option|item|tab)s?$",
        c,
        re.I,
    ):
        n = ordinal(m.group(1))
        if n is not None:
            return [Step(kind="click_nth", ordinal=n, kind_hint=m.group(2).lower())]
    # "Close the dialog by clicking the x": the means is the step.
    m = re.search(r"\bby\s+(?:click(?:ing)?|press(?:ing)?|select(?:ing)?)\s+(.*)$", c, re.I)
    if m:
        return _click(m.group(1), q)
    if m := re.match(
        r"(?:enter|type|input|write|fill in)\s+an?\s+\w+\s+that\s+starts\s+with\s+"
        r"(\S+)(?:\s+and\s+ends\s+with\s+(\S+))?",
        c,
        re.I,
    ):
        return [
            Step(
                kind="autocomplete",
                value=_unq(m.group(1), q),
                values=[_unq(m.group(2), q)] if m.group(2) else [],
            )
        ]
    if m := re.match(r"use\s+the\s+(.+?)\s+to\s+(?:enter|type|input)\s+(.+)$", c, re.I):
        return [Step(kind="fill", value=_unq(m.group(2), q), kind_hint=_unq(m.group(1), q))]
    if re.match(r"(?:enter|type|input|write|fill in|put|paste)\b", low):
        return _fill(c, q)
    if m := re.match(
        r"(?:select|choose|pick)\s+(.+?)\s+(?:from|in)\s+the\s+(?:\w+\s+)?"
        r"(?:list|dropdown|drop-down|menu|options|select)\b",
        c,
        re.I,
    ):
        return [Step(kind="choose", value=_unq(m.group(1), q))]
    if m := re.match(r"(?:select|check|tick)\s+(.+)$", c, re.I):
        obj = m.group(1)
        if ordinal(words(obj)[0] if words(obj) else "") is None:
            names = [] if obj.lower().strip() in ("nothing", "none") else _names(obj, q)
            return [Step(kind="check", values=names)]
    if m := re.match(r"expand\s+(?:the\s+)?(.*)$", c, re.I):
        return [Step(kind="expand", target=_unq(m.group(1), q))]
    if m := re.match(r"focus\s+(?:into|in|on)?\s*(?:the\s+)?(.*)$", c, re.I):
        obj = m.group(1)
        ws = obj.split()
        n = ordinal(ws[0]) if ws else None
        return [Step(kind="focus", ordinal=n or 0, kind_hint=" ".join(ws[1:] if n else ws))]
    if m := re.match(
        r"(?:find|read|get|copy|take)\s+the\s+(\w+)\s+(word|letter|number|line|"
        r"sentence|character)\s+(?:in|of|from)\s+(?:the\s+)?(.+)$",
        c,
        re.I,
    ):
        return [
            Step(
                kind="copy",
                ordinal=ordinal(m.group(1)) or 1,
                kind_hint=m.group(2).lower(),
                target=_unq(m.group(3), q),
            )
        ]
    if m := re.match(
        r"copy\s+the\s+(?:text|value|content)s?\s+(?:in|of|from)\s+(?:the\s+)?(.+?)"
        r"(?:\s+(?:below|above))?$",
        c,
        re.I,
    ):
        return [Step(kind="copy", kind_hint="text", target=_unq(m.group(1), q))]
    if m := re.match(r"find\s+(?:the\s+)?\w+\s+(?:by|from|named|called|titled)\s+(.+)$", c, re.I):
        return [Step(kind="locate", target=_unq(m.group(1), q))]
    if m := re.match(r"find\s+and\s+(.*)$", c, re.I):
        return _clause(m.group(1), q)
    if m := re.match(r"reply\s+to\s+\w+\s+with\s+(?:the\s+)?(?:text|message)?\s*(.+)$", c, re.I):
        return [
            Step(kind="click", target="reply"),
            Step(kind="fill", value=_unq(m.group(1), q), kind_hint="message"),
            Step(kind="click", target="send"),
        ]
    if m := re.match(r"forward\s+(?:\w+\s+)*?(?:to)\s+(.+)$", c, re.I):
        return [
            Step(kind="click", target="forward"),
            Step(kind="fill", value=_unq(m.group(1), q), kind_hint="to"),
            Step(kind="click", target="send"),
        ]
    # "Extract the orders": read the data the task's output_schema asks for off this page.
    if m := re.match(r"extract\s+(?:the\s+)?(.*)$", c, re.I):
        return [Step(kind="extract", target=_unq(m.group(1), q))]
    if m := re.match(r"(?:click|press|hit|tap|push|select|open|choose)\s+(.*)$", c, re.I):
        return _click(m.group(1), q)
    if m := re.match(r"(?:search\s+for|look\s+for)\s+(.+)$", c, re.I):
        return [Step(kind="fill", value=_unq(m.group(1), q), kind_hint="*slots*")]
    return []


def _names(obj: str, q: list[str]) -> list[str]:
    parts = re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", obj)
    return [_unq(p, q) for p in parts if p.strip()]


def _click(obj: str, q: list[str]) -> list[Step]:
    obj = re.sub(r"^(?:on|at)\s+", "", obj.strip(), flags=re.I)
    obj = re.sub(r"\s+to\s+(?!QQ).*$", "", obj)  # "the star icon to mark it as important"
    obj = re.sub(r"^(?:the|a|an)\s+", "", obj, flags=re.I)
    ws = obj.split()
    if not ws:
        return []
    n = ordinal(ws[0])
    if n is not None and len(ws) > 1:
        return [Step(kind="click_nth", ordinal=n, kind_hint=" ".join(ws[1:]))]
    if m := re.search(r"\b(?:named|called|labelled|labeled|titled|with text)\s+(.+)$", obj, re.I):
        return [Step(kind="click", target=_unq(m.group(1), q))]
    if n_ := re.fullmatch(r"(?:the\s+)?(?:submit|login|log in|search|send|ok|next)", obj, re.I):
        return [Step(kind="click", target=_unq(n_.group(0), q))]
    kind = ""
    rest = ws
    if ws[0].lower() in KIND_WORDS:
        kind, rest = ws[0].lower(), ws[1:]
    elif ws[-1].lower() in KIND_WORDS:
        kind, rest = ws[-1].lower(), ws[:-1]
    target = _unq(" ".join(rest), q)
    return [Step(kind="click", target=target, kind_hint=kind, alt_target=_unq(obj, q))]


NOT_FIELDS = frozenset(
    {"enter", "type", "input", "write", "number", "text", "word", "value", "phrase", "string"}
)
CASE = re.compile(r"\s+in\s+(?:all\s+)?(upper|lower)\s*-?\s*case(?:\s+letters)?", re.I)
COPIED = frozenset({"that", "it", "this", "them", "the word", "the text", "that word"})


def _fill(c: str, q: list[str]) -> list[Step]:
    case = ""
    if m := CASE.search(c):
        case, c = m.group(1).lower(), CASE.sub("", c)
    steps = _fill_plain(c, q)
    return [
        msgspec.structs.replace(s, case=case, from_copy=s.value.lower() in COPIED) for s in steps
    ]


def _fill_plain(c: str, q: list[str]) -> list[Step]:
    low = c.lower()
    everywhere = bool(re.search(r"\b(?:both|all|each)\b", low))
    # "Enter the username "a" and the password "b" into the text fields"
    pairs = re.findall(r"(?:the\s+)?([a-z][\w ]*?)\s+(QQ\d+QQ)", c, re.I)
    # "the number "-7"": a word that says what the value is, not which field takes it.
    pairs = [(f, v) for f, v in pairs if f.lower().split()[-1] not in NOT_FIELDS]
    if pairs:
        return [
            Step(
                kind="fill",
                value=_unq(v, q),
                kind_hint=f.split()[-1].lower(),
                all_fields=everywhere,
            )
            for f, v in pairs
        ]
    m = re.match(
        r"(?:enter|type|input|write|fill in|put|paste)\s+(.+?)(?:\s+(?:into|in|as|to|on)\s+"
        r"(?:the\s+|both\s+|all\s+)?(.+))?$",
        c,
        re.I,
    )
    if not m:
        return []
    hint = _unq(m.group(2) or "", q).lower()
    ws = hint.split()
    nth = ordinal(ws[0]) if ws else None
    what = _unq(m.group(1), q)
    if re.match(r"the\s+values?\s+(?:that\s+)?correspond", what, re.I):
        return [Step(kind="fill", lookup=EACH_LABEL, all_fields=True)]
    if lk := re.match(r"the\s+value\s+(?:of|for)\s+(?:the\s+)?(.+)$", what, re.I):
        return [Step(kind="fill", lookup=lk.group(1), kind_hint=hint)]
    return [
        Step(
            kind="fill",
            value=re.sub(r"^the\s+(?:number|text|word|value)\s+", "", _unq(m.group(1), q)),
            kind_hint=" ".join(ws[1:]) if nth else hint,
            ordinal=nth or 0,
            all_fields=everywhere,
        )
    ]

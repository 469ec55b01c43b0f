"""Filling fields: a value into the field a hint names, into all/both fields, the n-th field,
slot filling ("movies directed by X from year Y"), each field from the value the page shows
beside its label, and values read off the page by an earlier step."""

from __future__ import annotations

import re

import msgspec

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.lookup import EACH_LABEL, SHOWN, shown_above, value_beside
from macrohard.planner_model.web_planner.page import PageView
from macrohard.planner_model.web_planner.skills.base import (
    Ctx,
    PastStep,
    attempts,
    explore,
    say,
    skill,
)
from macrohard.planner_model.web_planner.skills.dates import as_field_value, date_by_picker
from macrohard.planner_model.web_planner.text import STOPWORDS, norm, ordinal, similarity, stem

FIELD_WORDS = frozenset(
    {
        "box",
        "field",
        "fields",
        "textbox",
        "textboxes",
        "text",
        "input",
        "area",
        "both",
        "all",
        "each",
        "the",
    }
)
NOT_FIELDS = frozenset(
    {"enter", "type", "input", "write", "number", "text", "word", "value", "phrase", "string"}
)
CASE = re.compile(r"\s+in\s+(?:all\s+)?(upper|lower)\s*-?\s*case(?:\s+letters)?", re.I)
COPIED = frozenset(
    {"that", "it", "this", "them", "the word", "the text", "that word", "your answer", "the answer",
     "the result", "the solution"}
)  # fmt: skip


@clause(30)
def named_value_clause(c: str, q: list[str]) -> list[Step] | None:
    """'Select 12/24/2016 as the date', 'Set 5 as the quantity': the value of a named field."""
    if m := re.match(
        r"(?:select|choose|pick|set|enter|type|input|put)\s+(.+?)\s+as\s+(?:the\s+)?(.+)$", c, re.I
    ):
        return [Step(kind="fill", value=unq(m.group(1), q), kind_hint=unq(m.group(2), q))]
    return None


@clause(70)
def use_field_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"use\s+the\s+(.+?)\s+to\s+(?:enter|type|input)\s+(.+)$", c, re.I):
        return [Step(kind="fill", value=unq(m.group(2), q), kind_hint=unq(m.group(1), q))]
    return None


@clause(80)
def fill_clause(c: str, q: list[str]) -> list[Step] | None:
    if not re.match(r"(?:enter|type|input|write|fill in|put|paste)\b", c.lower()):
        return None
    case = ""
    if m := CASE.search(c):
        case, c = m.group(1).lower(), CASE.sub("", c)
    steps = _fill_plain(c, q)
    return [
        msgspec.structs.replace(s, case=case, from_copy=s.value.lower() in COPIED) for s in steps
    ]


@clause(200)
def search_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := re.match(r"(?:search\s+for|look\s+for)\s+(.+)$", c, re.I):
        return [Step(kind="fill", value=unq(m.group(1), q), kind_hint="*slots*")]
    return None


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
                value=unq(v, q),
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
    hint = unq(m.group(2) or "", q).lower()
    ws = hint.split()
    nth = ordinal(ws[0]) if ws else None
    what = unq(m.group(1), q)
    if re.match(
        r"the\s+(?:text|word|letters|characters|code|number)\s+(?:below|above|shown|displayed)",
        what,
        re.I,
    ):
        return [Step(kind="fill", lookup=SHOWN, kind_hint=hint)]
    if re.match(r"the\s+values?\s+(?:that\s+)?correspond", what, re.I):
        return [Step(kind="fill", lookup=EACH_LABEL, all_fields=True)]
    if lk := re.match(r"the\s+value\s+(?:of|for)\s+(?:the\s+)?(.+)$", what, re.I):
        return [Step(kind="fill", lookup=lk.group(1), kind_hint=hint)]
    return [
        Step(
            kind="fill",
            value=re.sub(r"^the\s+(?:number|text|word|value)\s+", "", unq(m.group(1), q)),
            kind_hint=" ".join(ws[1:]) if nth else hint,
            ordinal=nth or 0,
            all_fields=everywhere,
        )
    ]


@skill("fill")
def fill(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    fields = view.fields()
    if not fields:
        return explore(step.kind_hint or "a text field", ctx, own)
    if step.kind_hint == "*slots*":
        return _fill_slots(step, view, fields, own)
    hint = field_hint(step.kind_hint)
    if step.lookup == EACH_LABEL:
        return _fill_from_labels(view, fields, own)
    if step.lookup == SHOWN:
        shown = next((t for f in fields if (t := shown_above(view, f))), None)
        if shown is None:
            return Intent(action="fail", reason="the page shows no text to enter")
        step = msgspec.structs.replace(step, value=shown, lookup="")
    if step.lookup:
        found = value_beside(view, step.lookup)
        if found is None:
            return Intent(action="fail", reason=f"the page shows no value for {step.lookup!r}")
        step = msgspec.structs.replace(step, value=found, lookup="")
    if step.from_copy:
        if ctx.copied is None:
            return Intent(action="fail", reason="nothing was read off the page to enter")
        value, source = ctx.copied
        fields = [f for f in fields if f.id != source.id] or fields
        step = msgspec.structs.replace(step, value=value, from_copy=False)
    if step.case:
        value = step.value.upper() if step.case == "upper" else step.value.lower()
        step = msgspec.structs.replace(step, value=value)
    scored = sorted(
        ((similarity(hint, view.label(f)) if hint else 0.0, -i, f) for i, f in enumerate(fields)),
        key=lambda t: (t[0], t[1]),
        reverse=True,
    )
    if step.ordinal and not step.all_fields:
        n = step.ordinal
        targets = [fields[n - 1] if 0 < n <= len(fields) else fields[-1]]
    elif step.all_fields:
        targets = [f for s, _, f in scored if s >= 0.5] or fields
    else:
        best = scored[0][0]
        targets = [f for s, _, f in scored if s == best][:1] if best >= 0.5 else []
        if not targets:  # "the text field": the first one not yet holding a value
            held = [view.by_id(h.intent.element) for h in own if h.ok and h.intent.action == "type"]
            if any(f is not None and f.value for f in held):
                return None  # a field took it already; another empty one is not this step's
            targets = [next((f for f in fields if not f.value), fields[0])]
    for f in sorted(targets, key=lambda f: f.id):
        picked = date_by_picker(step.value, f, view, own)
        if picked is not None:
            return picked if picked.action != "done" else None
        # A field that refused the value as written (an error, or it stayed unchanged) may
        # want another form of it: dates are retried in ISO form.
        mine = [h for h in own if h.intent.element == f.id and h.intent.text == step.value]
        rejected = any("malformed" in h.error.lower() for h in mine) or (
            bool(mine) and (f.value or "") != step.value
        )
        want = as_field_value(step.value, f, rejected)
        # A password field shows a mask, never the value: typed once without error is done.
        masked = bool(f.value) and set(f.value or "") <= {"•", "*", "●"}
        typed = any(h.ok and h.intent.element == f.id and h.intent.text == want for h in own)
        if masked and typed:
            continue
        if (f.value or "") != want and attempts(own, f) < 2 + int(rejected):
            return type_into(f, want, view)
    return None


def field_hint(hint: str) -> str:
    """'the comment box' -> 'comment'; 'text field' -> '' (any field will do)."""
    return " ".join(w for w in hint.split() if w.lower() not in FIELD_WORDS)


def _fill_from_labels(
    view: PageView, fields: list[PageElement], own: list[PastStep]
) -> Intent | None:
    """Each field takes the value the page shows beside the field's own label."""
    plan = {f.id: want for f in fields if (want := value_beside(view, view.label(f)))}
    return type_planned(plan, view, fields, own)


def type_planned(
    plan: dict[int, str], view: PageView, fields: list[PageElement], own: list[PastStep]
) -> Intent | None:
    """Type into the first field of `plan` not yet holding its value (two tries each)."""
    for f in fields:
        want = plan.get(f.id)
        if want is not None and (f.value or "") != want and attempts(own, f) < 2:
            return type_into(f, want, view)
    return None


def type_into(f: PageElement, want: str, view: PageView) -> Intent:
    return Intent(
        action="type",
        element=f.id,
        text=want,
        reason=f"enter {want!r} into {say(f)} ({view.label(f)!r})",
    )


def _fill_slots(
    step: Step, view: PageView, fields: list[PageElement], own: list[PastStep]
) -> Intent | None:
    """'movies directed by X from year Y': each field takes the words its label points at."""
    toks = step.value.split()
    used = [False] * len(toks)
    plan: dict[int, str] = {}
    pending: list[PageElement] = []
    for f in fields:
        key = stem(norm(view.label(f)).split(" ")[0]) if view.label(f) else ""
        hit = next((i for i, t in enumerate(toks) if key and stem(norm(t)) == key), None)
        if hit is None:
            pending.append(f)
            continue
        used[hit] = True
        j = hit + 1
        while j < len(toks) and norm(toks[j]) in STOPWORDS:
            used[j] = True
            j += 1
        if j < len(toks):
            used[j] = True
            plan[f.id] = norm(toks[j]) if toks[j][:1].islower() else toks[j].strip(".,")
    left = [
        t.strip(".,") for t, u in zip(toks, used, strict=True) if not u and norm(t) not in STOPWORDS
    ]
    for f in pending:
        if left:
            plan[f.id] = left.pop(0)  # a modifier comes before its head noun
    return type_planned(plan, view, fields, own)

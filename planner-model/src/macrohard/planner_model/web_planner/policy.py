"""Decide the next intent: find the first unfinished goal step and ground it on the page.

Stateless between calls: progress is read back from the history (each intent carries the
index of the goal step it served) and from the page itself (a field already holding its
value is done), so the same request always yields the same intent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import msgspec

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement, PageObservation
from macrohard.planner_model.web_planner.datepicker import parse_date, pick_date
from macrohard.planner_model.web_planner.extract import holds
from macrohard.planner_model.web_planner.goal import Step, parse_goal
from macrohard.planner_model.web_planner.lookup import EACH_LABEL, value_beside
from macrohard.planner_model.web_planner.page import (
    FIELD_ROLES,
    Embed,
    PageView,
    center,
    kind_words,
)
from macrohard.planner_model.web_planner.text import STOPWORDS, norm, ordinal, similarity, stem

MAX_TRIES_PER_STEP = 6
SUBMIT_NAMES = ("submit", "ok", "done", "search", "login", "log in", "sign in", "send", "go")
WIDGET_KINDS = frozenset({"radio", "checkbox", "button", "textbox", "field", "option", "tab"})
NAV_TEXT = frozenset({"<", ">", "«", "»", "next", "prev", "previous", "first", "last", "..."})


class PastStep(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One earlier intent and how it went; `label` names the element it acted on."""

    intent: Intent
    ok: bool = True
    error: str = ""
    label: str = ""


class PlanRequest(msgspec.Struct, frozen=True, kw_only=True):
    goal: str
    observation: PageObservation
    history: list[PastStep] = []
    # The task's JSON Schema for its result: an "extract ..." step reads it off the page.
    output_schema: dict[str, Any] | None = None


class _Ctx:
    def __init__(
        self,
        view: PageView,
        history: list[PastStep],
        observation: PageObservation,
        output_schema: dict[str, Any] | None = None,
    ) -> None:
        self.view = view
        self.history = history
        self.observation = observation
        self.output_schema = output_schema
        self.anchor: PageElement | None = None  # the item a "find the X by Y" step located
        self.copied: tuple[str, PageElement] | None = None  # what a copy step read, and where


Handler = Callable[[Step, _Ctx, list[PastStep]], Intent | None]


def decide(request: PlanRequest, embed: Embed | None = None) -> Intent:
    """The next intent for the goal on this page (`done` when every step is finished)."""
    steps = parse_goal(request.goal)
    view = PageView(request.observation, request.goal, embed)
    ctx = _Ctx(view, request.history, request.observation, request.output_schema)
    served = [h.intent.plan_step for h in request.history if h.intent.plan_step is not None]
    start = max(served, default=0)
    if not steps:
        return Intent(
            action="fail", reason=f"could not read any step from the goal {request.goal!r}"
        )
    for i, step in enumerate(steps):
        own = [h for h in request.history if h.intent.plan_step == i]
        if step.kind == "locate":
            ctx.anchor = _locate(step, view) or ctx.anchor
            continue
        if step.kind == "copy":  # reading needs no action: re-read from the page each time
            ctx.copied = _read(step, view) or ctx.copied
            continue
        if i < start:
            continue
        # Walking a widget (a calendar's months) is progress, not another try.
        if sum(not h.intent.reason.startswith("calendar") for h in own) >= MAX_TRIES_PER_STEP:
            continue  # give the rest of the goal a chance rather than loop on one step
        intent = HANDLERS[step.kind](step, ctx, own)
        if intent is not None:
            return msgspec.structs.replace(_recover(intent, own), plan_step=i)
    return _finish(steps, ctx)


def _recover(intent: Intent, own: list[PastStep]) -> Intent:
    """Right after the same action failed: first dismiss what may cover the element (a popup,
    a menu) with Escape; when it fails again, activate it from the keyboard (focus + Enter),
    which no overlapping element can intercept."""
    last = own[-1] if own else None
    if last is None or last.ok or last.intent.element != intent.element:
        return intent
    if last.intent.action != intent.action:
        return intent
    failures = sum(
        1
        for h in own
        if not h.ok and h.intent.action == intent.action and h.intent.element == intent.element
    )
    if failures == 1:
        return Intent(action="press", keys="Escape", reason=f"dismiss overlays: {last.error[:80]}")
    if intent.action == "click" and intent.element is not None:
        return Intent(
            action="press",
            element=intent.element,
            keys="Enter",
            reason=f"activate from the keyboard: {intent.reason}",
        )
    return intent


def _read(step: Step, view: PageView) -> tuple[str, PageElement] | None:
    """'the 2nd word in the paragraph', 'the text in the textarea': value and source element."""
    ws = norm(step.target).split()
    nth = ordinal(ws[0]) if ws else None
    phrase = " ".join(ws[1:] if nth else ws[:2])
    kinds = [
        e
        for e in view.elements
        if phrase and (phrase in kind_words(e) or phrase.split()[0] in kind_words(e))
    ]
    pool = kinds[nth - 1 : nth] if nth and 0 < nth <= len(kinds) else kinds
    if not pool:  # "the paragraph": the longest text on the page that is not a control
        texts = [e for e in view.elements if e.text and e.role not in FIELD_ROLES]
        pool = sorted(texts, key=lambda e: -len(e.text))[:1]
    if not pool:
        return None
    source = pool[0]
    content = source.value if source.value is not None and source.value != "" else source.text
    content = content or source.name
    if step.kind_hint in ("word", "number"):
        tokens = [t.strip(".,;:!?\"'()") for t in content.split()]
        tokens = [t for t in tokens if t]
        n = step.ordinal if step.ordinal > 0 else len(tokens)
        return (tokens[n - 1], source) if 0 < n <= len(tokens) else None
    if step.kind_hint in ("letter", "character"):
        n = step.ordinal if step.ordinal > 0 else len(content)
        return (content[n - 1], source) if 0 < n <= len(content) else None
    return (content, source)


def _locate(step: Step, view: PageView) -> PageElement | None:
    found = [(s, e) for s, e in view.ground(step.target) if s >= 0.9]
    return found[0][1] if found else None


def _clicked(own: list[PastStep]) -> bool:
    return any(
        h.ok
        and (h.intent.action == "click" or h.intent.reason.startswith("activate"))
        and not h.intent.reason.startswith("explore")
        for h in own
    )


def _click(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    if _clicked(own):
        return None
    cands = ctx.view.ground(step.target, step.alt_target, step.kind_hint, near=ctx.anchor)
    if cands and cands[0][0] >= 0.5:
        e = cands[0][1]
        return Intent(action="click", element=e.id, reason=f"click {_say(e)} for {step.target!r}")
    return _explore(step.target or step.kind_hint, ctx, own)


def _explore(what: str, ctx: _Ctx, own: list[PastStep]) -> Intent:
    """The target is not visible: open the item found earlier, or expand what is collapsed."""
    tried = {h.label for h in own}
    anchor = ctx.anchor
    if anchor is not None and _say(anchor) not in tried:
        return Intent(action="click", element=anchor.id, reason=f"explore: open {_say(anchor)}")
    for e in _expandables(ctx.view):
        if _say(e) not in tried:
            return Intent(action="click", element=e.id, reason=f"explore: expand {_say(e)}")
    return Intent(action="fail", reason=f"nothing on the page matches {what!r}")


def _expandables(view: PageView) -> list[PageElement]:
    """Collapsed things: aria-expanded=false, or an item led by a small text-less icon (a
    folder's disclosure triangle) that does not say it is already open."""
    out = [e for e in view.elements if e.expanded is False]
    for icon in view.elements:
        if icon.text or icon.box is None or icon.box.w > 24 or icon.box.h > 24:
            continue
        if any(w in icon.name.lower() for w in ("collapse", "expanded", "open")):
            continue
        for e in view.elements:
            if (
                e.text
                and e.box is not None
                and abs(center(e)[1] - center(icon)[1]) < 6
                and 0 <= e.box.x - (icon.box.x + icon.box.w) <= 6
            ):
                out.append(e)
    return out


def _say(e: PageElement) -> str:
    label = (e.name or e.text or e.value or e.role)[:40]
    return f"{e.role} {label!r}"


def _fill(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    fields = view.fields()
    if not fields:
        return _explore(step.kind_hint or "a text field", ctx, own)
    if step.kind_hint == "*slots*":
        return _fill_slots(step, view, fields, own)
    hint = _field_hint(step.kind_hint)
    if step.lookup == EACH_LABEL:
        return _fill_from_labels(view, fields, own)
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
        picked = _date_by_picker(step.value, f, view, own)
        if picked is not None:
            return picked if picked.action != "done" else None
        # A field that refused the value as written (an error, or it stayed unchanged) may
        # want another form of it: dates are retried in ISO form.
        mine = [h for h in own if h.intent.element == f.id and h.intent.text == step.value]
        rejected = any("malformed" in h.error.lower() for h in mine) or (
            bool(mine) and (f.value or "") != step.value
        )
        want = _as_field_value(step.value, f, rejected)
        # A password field shows a mask, never the value: typed once without error is done.
        masked = bool(f.value) and set(f.value or "") <= {"•", "*", "●"}
        typed = any(h.ok and h.intent.element == f.id and h.intent.text == want for h in own)
        if masked and typed:
            continue
        if (f.value or "") != want and _attempts(own, f) < 2 + int(rejected):
            return _type_into(f, want, view)
    return None


def _fill_from_labels(
    view: PageView, fields: list[PageElement], own: list[PastStep]
) -> Intent | None:
    """Each field takes the value the page shows beside the field's own label."""
    plan = {f.id: want for f in fields if (want := value_beside(view, view.label(f)))}
    return _type_planned(plan, view, fields, own)


def _type_planned(
    plan: dict[int, str], view: PageView, fields: list[PageElement], own: list[PastStep]
) -> Intent | None:
    """Type into the first field of `plan` not yet holding its value (two tries each)."""
    for f in fields:
        want = plan.get(f.id)
        if want is not None and (f.value or "") != want and _attempts(own, f) < 2:
            return _type_into(f, want, view)
    return None


def _type_into(f: PageElement, want: str, view: PageView) -> Intent:
    return Intent(
        action="type",
        element=f.id,
        text=want,
        reason=f"enter {want!r} into {_say(f)} ({view.label(f)!r})",
    )


def _scroll(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    """Scroll a container (named by its kind: "textarea", "list") or the page to one end."""
    if any(h.ok for h in own):
        return None
    view = ctx.view
    dy = 100_000 if step.value == "down" else -100_000
    pool = [e for e in view.elements if step.target and step.target in kind_words(e)]
    if not pool and step.target:
        pool = [s_e[1] for s_e in view.ground(step.target)[:1]]
    if not pool:
        return Intent(action="scroll", dy=dy, reason=f"scroll the page {step.value}")
    e = pool[0]
    return Intent(action="scroll", element=e.id, dy=dy, reason=f"scroll {_say(e)} {step.value}")


def _date_by_picker(
    value: str, f: PageElement, view: PageView, own: list[PastStep]
) -> Intent | None:
    """A date field that refused typing is set with its calendar; `done` once it shows the
    date. None: not a date, or the field takes typing."""
    want = parse_date(value)
    # Refused outright (read-only: typing timed out), not merely malformed: a date input
    # that wants another form of the date is retried in ISO form instead.
    refused = any(
        not h.ok
        and h.intent.action == "type"
        and h.intent.element == f.id
        and "malformed" not in h.error.lower()
        for h in own
    )
    if want is None or not refused:
        return None
    if parse_date(f.value or "") == want:
        return Intent(action="done", reason="the field shows the date")
    if sum(1 for h in own if h.intent.reason.startswith(("calendar", "pick day"))) > 40:
        return None
    return pick_date(want, f, view)


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


def _field_hint(hint: str) -> str:
    """'the comment box' -> 'comment'; 'text field' -> '' (any field will do)."""
    return " ".join(w for w in hint.split() if w.lower() not in FIELD_WORDS)


def _attempts(own: list[PastStep], f: PageElement) -> int:
    return sum(1 for h in own if h.intent.element == f.id and h.intent.action == "type")


def _as_field_value(value: str, f: PageElement, rejected: bool = False) -> str:
    """A date input takes ISO dates; people write them month/day/year. A field known to be a
    date input, or one that rejected the value as malformed, gets the ISO form."""
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value.strip())
    if m and ("date" in f.role or rejected):
        return f"{m.group(3)}-{int(m.group(1)):02d}-{int(m.group(2)):02d}"
    return value


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
    return _type_planned(plan, view, fields, own)


def _check(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    wanted = {v.strip() for v in step.values}
    boxes = [e for e in view.elements if e.role in ("checkbox", "radio", "switch")]
    for b in boxes:
        label = view.label(b).strip()
        want = label in wanted or norm(label) in {norm(w) for w in wanted}
        if bool(b.checked) != want and (want or b.role != "radio"):
            return Intent(
                action="check" if want else "uncheck",
                element=b.id,
                reason=f"{'check' if want else 'uncheck'} {label!r}",
            )
    return None


def _choose(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    for e in view.elements:
        if e.options:
            best = max(e.options, key=lambda o: similarity(step.value, o))
            if similarity(step.value, best) < 0.5:
                continue
            if (e.value or "") == best:
                return None
            if sum(1 for h in own if h.intent.element == e.id) >= 2:
                return None
            return Intent(
                action="select", element=e.id, values=[best], reason=f"choose {best!r} in {_say(e)}"
            )
    return _click(Step(kind="click", target=step.value), ctx, own)


def _expand(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    if _clicked(own):
        return None
    collapsed = [e for e in ctx.view.elements if e.expanded is False]
    pool = collapsed or ctx.view.elements
    cands = ctx.view.ground(step.target, pool=pool)
    e = cands[0][1] if cands else (collapsed[0] if collapsed else None)
    if e is None:
        return None  # nothing collapsed: already expanded
    return Intent(action="click", element=e.id, reason=f"expand {_say(e)}")


def _focus(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    if _clicked(own):
        return None
    fields = ctx.view.fields()
    if not fields:
        return _explore("a text field", ctx, own)
    n = step.ordinal or 1
    f = fields[n - 1] if 0 < n <= len(fields) else fields[-1]
    return Intent(action="click", element=f.id, reason=f"focus field #{n}: {_say(f)}")


def _click_nth(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    """The n-th widget of a kind ("the 3rd radio button"), or the n-th result of a list
    that may be split into pages."""
    if any(h.ok and h.intent.reason.startswith(("result", "widget")) for h in own):
        return None
    view = ctx.view
    kind = step.kind_hint.replace("check box", "checkbox").replace("text field", "textbox")
    widgets = [e for e in view.elements if kind.split()[0] in kind_words(e) and not e.disabled]
    if kind.split()[0] in WIDGET_KINDS and widgets:
        n = step.ordinal
        e = widgets[n - 1] if 0 < n <= len(widgets) else widgets[-1]
        if e.role in ("checkbox", "radio"):
            if e.checked:
                return None
            return Intent(action="check", element=e.id, reason=f"widget #{n}: {_say(e)}")
        return Intent(action="click", element=e.id, reason=f"widget #{n}: {_say(e)}")
    links = [e for e in view.elements if e.role == "link" and describe_nav(e) is None]
    items = sorted(links, key=lambda e: (center(e)[1], center(e)[0]))
    if not items:
        return _explore(step.kind_hint, ctx, own)
    page, size = 1, len(items)
    for h in own:
        if m := re.match(r"page (\d+) of size (\d+)", h.intent.reason):
            page, size = int(m.group(1)), int(m.group(2))
    n = step.ordinal if step.ordinal > 0 else len(items)
    want_page = math.ceil(n / size)
    if want_page == page and 0 < n - (page - 1) * size <= len(items):
        e = items[n - (page - 1) * size - 1]
        return Intent(action="click", element=e.id, reason=f"result #{n}: {_say(e)}")
    navs = [e for e in view.elements if describe_nav(e) is not None]
    target = next((e for e in navs if describe_nav(e) == str(want_page)), None)
    if target is None:
        target = next((e for e in navs if describe_nav(e) in ("next", ">", "»")), None)
        want_page = page + 1
    if target is None:
        return Intent(action="fail", reason=f"only {len(items)} results and no next page")
    return Intent(action="click", element=target.id, reason=f"page {want_page} of size {size}")


def describe_nav(e: PageElement) -> str | None:
    t = norm(e.name or e.text)
    if t.isdigit() or t in NAV_TEXT or (e.text or e.name).strip() in NAV_TEXT:
        return t or (e.text or e.name).strip()
    return None


def _autocomplete(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    view = ctx.view
    fields = view.fields()
    if not fields:
        return _explore("a text field", ctx, own)
    f = fields[0]
    prefix, suffix = step.value, (step.values[0] if step.values else "")
    value = f.value or ""

    def fits(s: str) -> bool:
        return s.lower().startswith(prefix.lower()) and s.lower().endswith(suffix.lower())

    if fits(value) and any(h.intent.action == "click" for h in own):
        return None
    suggestions = [e for e in view.elements if e is not f and fits((e.text or e.name).strip())]
    picked = [m.group(1) for h in own if (m := re.match(r"pick suggestion (.+)$", h.intent.reason))]
    if picked and not fits(value):
        # The list click did not take (a menu still animating): type the chosen item itself.
        return Intent(
            action="type",
            element=f.id,
            text=picked[-1],
            reason=f"enter the picked item {picked[-1]!r}",
        )
    if suggestions and value.lower().startswith(prefix.lower()):
        e = suggestions[0]
        text = (e.text or e.name).strip()
        return Intent(action="click", element=e.id, reason=f"pick suggestion {text}")
    if not value.lower().startswith(prefix.lower()) or not any(
        h.intent.action == "type" for h in own
    ):
        return Intent(
            action="type", element=f.id, text=prefix, reason=f"type {prefix!r} to get suggestions"
        )
    if fits(value):
        return None
    return Intent(action="press", element=f.id, keys="ArrowDown", reason="open suggestions")


def _finish(steps: list[Step], ctx: _Ctx) -> Intent:
    """All steps done. A form that was filled but whose goal never said so still gets sent."""
    last = steps[-1]
    done_i = len(steps)
    if last.kind in ("fill", "check", "choose", "autocomplete"):
        own = [h for h in ctx.history if h.intent.plan_step == done_i]
        if not _clicked(own) and len(own) < MAX_TRIES_PER_STEP:
            for name in SUBMIT_NAMES:
                cands = [(s, e) for s, e in ctx.view.ground(name) if s >= 0.9]
                if cands:
                    e = cands[0][1]
                    submit = Intent(action="click", element=e.id, reason=f"submit with {_say(e)}")
                    return msgspec.structs.replace(_recover(submit, own), plan_step=done_i)
    return Intent(action="done", plan_step=done_i + 1, reason="every step of the goal is done")


def _wait(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    """Let the time the goal asks for pass, once."""
    if any(h.ok for h in own):
        return None
    ms = int(float(step.value) * 1000) + 100  # a margin: the page measures its own time
    return Intent(action="wait_for", wait_ms=min(ms, 30000), reason=f"wait {step.value} s")


def _extract(step: Step, ctx: _Ctx, own: list[PastStep]) -> Intent | None:
    """Read the data the goal asks for, once, on the page that shows it (the actuator reads
    the values; the planner merges every extraction into the result). No schema, or a page
    without any matching table header, list item or label: nothing to read here."""
    if ctx.output_schema is None or any(h.ok and h.intent.action == "extract" for h in own):
        return None
    if not holds(ctx.output_schema, ctx.observation):
        return None
    what = step.target or "the data"
    return Intent(action="extract", reason=f"read {what} off this page")


HANDLERS: dict[str, Handler] = {
    "click": _click,
    "fill": _fill,
    "check": _check,
    "choose": _choose,
    "expand": _expand,
    "focus": _focus,
    "click_nth": _click_nth,
    "autocomplete": _autocomplete,
    "wait": _wait,
    "scroll": _scroll,
    "extract": _extract,
}
_ = FIELD_ROLES

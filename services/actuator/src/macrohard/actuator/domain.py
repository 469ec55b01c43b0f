"""Pure decisions of the actuator: URL safety, intent arguments, secrets, observation size,
and the browser session aggregate. No I/O here, so every rule is tested exhaustively.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import (
    Box,
    PageElement,
)
from macrohard.eventlog import egress
from macrohard.eventlog.egress import UrlVerdict as UrlVerdict
from macrohard.eventlog.egress import address_refusal as address_refusal
from macrohard.eventlog.egress import host_in_allowlist as host_in_allowlist

# --------------------------------------------------------------------------- URL safety

# Schemes that never touch the network: inline content the page made itself.
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})


def check_url(
    url: str, allowed_domains: Sequence[str] | None, *, local_test_mode: bool
) -> UrlVerdict:
    """Decide on a URL before any DNS lookup, by the platform's one address policy.

    `allowed_domains`: None for a tenant the log does not know (it may browse nowhere); an
    empty list sets no domain limit, as the gateway defines it (the address rules still
    hold). Local test mode exempts loopback only (tests serve their pages on 127.0.0.1).
    """
    try:
        target = egress.parse_url(url)
    except egress.EgressRefused as exc:
        return UrlVerdict.refuse(exc.reason)
    if target.scheme in LOCAL_SCHEMES:
        return UrlVerdict.ok()
    known = allowed_domains if allowed_domains is not None else []
    verdict = egress.check_target(target, known, allow_loopback=local_test_mode)
    if verdict.allowed and allowed_domains is None:
        return UrlVerdict.refuse("the tenant is unknown, so no domain is allowed")
    return verdict


def check_resolved(host: str, addresses: Sequence[str], *, local_test_mode: bool) -> UrlVerdict:
    """Decide on what a host name resolved to: every address must be public (SSRF)."""
    return egress.check_resolved(host, addresses, allow_loopback=local_test_mode)


# --------------------------------------------------------------------------- intents

KEY_NAMES = frozenset(
    {
        "Enter", "Tab", "Escape", "Backspace", "Delete", "Insert", "Space",
        "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown",
        "Shift", "Control", "Alt", "Meta", "ControlOrMeta", "CapsLock", "ContextMenu",
        *(f"F{i}" for i in range(1, 13)),
    }
)  # fmt: skip
MODIFIERS = frozenset({"Shift", "Control", "Alt", "Meta", "ControlOrMeta"})
UPLOAD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")
MAX_TYPED_TEXT = 10_000
MAX_WAIT_MS = 30_000  # a step is not a way to hold a browser for long
MAX_HOLD_MS = 10_000  # a press-and-hold longer than this is not a gesture any more
MAX_REPEAT_MS = 10_000  # pressing things as they come, within one step's deadline
MAX_POINT = 20_000  # CSS pixels: no page element or viewport is larger
MAX_SELECTED_TEXT = 2_000


class InvalidIntent(ValueError):
    """The planner asked for something malformed; reported as a refused action, never run."""


def parse_keys(keys: str) -> list[str]:
    """`"Control+a Enter"` -> `["Control+a", "Enter"]`: chords separated by spaces.

    Each chord is modifiers joined by `+` ending in one key: a name from KEY_NAMES or one
    printable character. `"+"` itself is written as `Shift+Equal`-free `"+"` alone.
    """
    chords = keys.split()
    if not chords:
        raise InvalidIntent("press needs keys")
    for chord in chords:
        parts = [chord] if chord == "+" else chord.split("+")
        if any(not p for p in parts):
            raise InvalidIntent(f"malformed chord {chord!r}")
        *mods, key = parts
        for mod in mods:
            if mod not in MODIFIERS:
                raise InvalidIntent(f"unknown modifier {mod!r} in {chord!r}")
        if key not in KEY_NAMES and not (len(key) == 1 and key.isprintable()):
            raise InvalidIntent(f"unknown key {key!r} in {chord!r}")
    return chords


# Actions that cause nothing beyond the page's own view of itself: a GET of a URL (the task
# may already be on it), scrolling, hovering, waiting, reading, selecting text, and the run's
# own end. Doing one twice changes nothing a site records. Everything else may: a click or a
# key (Enter submits), typing or choosing in a form that scripts may send as it changes,
# going back (it may re-post a form), a drag, an upload.
EFFECT_FREE = frozenset(
    {"navigate", "scroll", "hover", "wait_for", "extract", "select_text", "done", "fail"}
)


def effect_free(action: str) -> bool:
    """Whether doing `action` again is harmless: an interrupted one (the actuator died after
    ActionStarted) is then done again and the run goes on, instead of being reported as an
    effect of unknown outcome. Unknown action names count as effects (never repeated)."""
    return action in EFFECT_FREE


# Request methods a site must not act on (RFC 9110's safe methods, as the write-ahead record
# treats them: a GET with an effect is the site's own fault and out of its reach).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def can_carry_effect(method: str) -> bool:
    """Whether a request may make a site record something (any method but the safe ones):
    while an action with effects is in flight such a request waits until the log says it
    left (ActionReachedSite). Unknown or odd-cased methods count as effects."""
    return method.upper() not in SAFE_METHODS


def pointer_action_done(error: str, action: str = "click") -> bool:
    """Whether a Playwright pointer action that raised had already done the action itself.

    Playwright's click also waits, within the same timeout, for a navigation the click
    started to commit; its call log (in the error's text) says `click action done` once the
    mouse events reached the page. A timeout after that line is a slow page, not a click
    that did not happen."""
    return _logged(error, f"{action} action done")


def pointer_action_begun(error: str, action: str = "click") -> bool:
    """Whether a Playwright pointer action that raised had begun sending its mouse events
    (`performing click action`): without `click action done` after it, whether the click
    reached the page is unknown (the wait for its hit-target check may be what ran out)."""
    return _logged(error, f"performing {action} action")


def _logged(error: str, line: str) -> bool:
    return any(seen.strip().lstrip("-").strip() == line for seen in error.splitlines())


# Which element references each action needs (element, target_element).
NEEDS_ELEMENT = frozenset(
    {
        "click", "type", "clear", "select", "check", "uncheck", "hover", "drag", "upload",
        "right_click", "hold", "select_text", "set_value", "click_when",
    }
)  # fmt: skip


def validate_intent(intent: Intent) -> None:
    """Raise InvalidIntent when the arguments cannot make sense for the action."""
    action = intent.action
    if action in NEEDS_ELEMENT and intent.element is None:
        raise InvalidIntent(f"{action} needs an element")
    if intent.element is not None and intent.element < 1:
        raise InvalidIntent(f"element ids start at 1, got {intent.element}")
    if action == "navigate" and not intent.url:
        raise InvalidIntent("navigate needs a url")
    if action == "type":
        if intent.text is None:
            raise InvalidIntent("type needs text")
        if len(intent.text) > MAX_TYPED_TEXT:
            raise InvalidIntent(f"text longer than {MAX_TYPED_TEXT} characters")
    if action == "select" and not intent.values and not intent.text:
        raise InvalidIntent("select needs values (option labels or values)")
    if action == "press":
        parse_keys(intent.keys or "")
    if action == "drag" and intent.target_element is None and intent.x is None:
        raise InvalidIntent("drag needs a target_element or a point (x, y)")
    _validate_gesture(intent)
    if action == "upload":
        if not intent.values:
            raise InvalidIntent("upload needs file names in values")
        for name in intent.values:
            # Only plain names inside the tenant's upload folder: no paths, no '..'.
            if not UPLOAD_NAME.match(name) or ".." in name:
                raise InvalidIntent(f"upload file name {name!r} is not a plain file name")
    if not 0 <= intent.wait_ms <= MAX_WAIT_MS:
        raise InvalidIntent(f"wait_ms must be between 0 and {MAX_WAIT_MS}")
    if action == "scroll" and intent.element is None and intent.dx == 0 and intent.dy == 0:
        raise InvalidIntent("scroll needs an element or dx/dy")


def _validate_gesture(intent: Intent) -> None:
    action = intent.action
    if (intent.x is None) != (intent.y is None):
        raise InvalidIntent("a point needs both x and y")
    point = (intent.x or 0, intent.y or 0)
    if not all(0 <= v <= MAX_POINT for v in point):
        raise InvalidIntent(f"a point must lie within 0..{MAX_POINT} on both axes")
    if (intent.grip_x is None) != (intent.grip_y is None):
        raise InvalidIntent("a grip point needs both grip_x and grip_y")
    if intent.grip_x is not None and action != "drag":
        raise InvalidIntent("a grip point is only for drag")
    if not all(0 <= v <= MAX_POINT for v in (intent.grip_x or 0, intent.grip_y or 0)):
        raise InvalidIntent(f"a grip point must lie within 0..{MAX_POINT} on both axes")
    if action == "click_at" and intent.x is None:
        raise InvalidIntent("click_at needs a point (x, y)")
    if action == "hold" and not 0 < intent.hold_ms <= MAX_HOLD_MS:
        raise InvalidIntent(f"hold needs hold_ms between 1 and {MAX_HOLD_MS}")
    if action != "hold" and intent.hold_ms:
        raise InvalidIntent("hold_ms is only for hold")
    if not 0 <= intent.repeat_ms <= MAX_REPEAT_MS:
        raise InvalidIntent(f"repeat_ms must be between 0 and {MAX_REPEAT_MS}")
    if intent.repeat_ms and (action != "click_at" or intent.element is None):
        raise InvalidIntent("repeat_ms is only for click_at on an element")
    if action == "select_text" and intent.text is not None and not intent.text.strip():
        raise InvalidIntent("select_text needs the text to select (or none: all of it)")
    if action == "select_text" and len(intent.text or "") > MAX_SELECTED_TEXT:
        raise InvalidIntent(f"select_text selects at most {MAX_SELECTED_TEXT} characters")
    if action == "set_value" and parse_number(intent.text or "") is None:
        raise InvalidIntent(f"set_value needs a number in text, got {intent.text!r}")
    if action == "click_when":
        if intent.target_element is None:
            raise InvalidIntent("click_when needs the target_element that shows the value")
        if parse_comparison(intent.text or "") is None:
            raise InvalidIntent(
                f"click_when needs a condition like '< 53.1' in text, got {intent.text!r}"
            )
        if intent.wait_ms <= 0:
            raise InvalidIntent("click_when needs wait_ms: how long to watch the value")


COMPARISON = re.compile(r"\s*(<=|>=|!=|<|>|=)\s*(\S+)\s*")


def parse_comparison(text: str) -> tuple[str, float] | None:
    """A condition on a number as `click_when` takes it ("< 53.1", ">= -2"), else None."""
    m = COMPARISON.fullmatch(text)
    bound = parse_number(m.group(2)) if m else None
    return None if m is None or bound is None else (m.group(1), bound)


def parse_number(text: str) -> float | None:
    """A finite decimal number as a person writes it ("-12", "3.5", "1,000"), else None."""
    cleaned = text.strip().replace(",", "").replace("\u2212", "-")
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", cleaned):
        return None
    return float(cleaned)


# --------------------------------------------------------------------------- secrets

SECRET_PLACEHOLDER = re.compile(r"\{\{secret:([A-Za-z0-9_.-]{1,64})\}\}")
REDACTED = "[secret]"


class MissingSecret(KeyError):
    """The intent names a secret the task was not given."""


def secret_origin_refusal(
    page_url: str, start_url: str, allowed_domains: Sequence[str] | None
) -> str:
    """Why a secret must not be typed on this page ('' when it may).

    A secret goes only to an origin of the tenant's allowlist, or to the task's own start
    origin: a hostile page (or a model talked into it) cannot have it typed elsewhere.
    """
    try:
        page = egress.parse_url(page_url)
    except egress.EgressRefused:
        return f"secrets are typed only on web pages, not on {page_url[:100]!r}"
    if page.scheme not in ("http", "https"):
        return f"secrets are typed only on web pages, not on {page.scheme}:"
    try:
        start = egress.parse_url(start_url)
    except egress.EgressRefused:
        start = None
    if start is not None and (start.scheme, start.host, start.port) == (
        page.scheme,
        page.host,
        page.port,
    ):
        return ""
    if allowed_domains and host_in_allowlist(page.host, allowed_domains):
        return ""
    return (
        "a secret is typed only on the tenant's domains or the task's start origin, "
        f"not on {page.host}"
    )


def secret_names(text: str) -> list[str]:
    return SECRET_PLACEHOLDER.findall(text)


def fill_secrets(text: str, values: Mapping[str, str]) -> str:
    """Replace every `{{secret:NAME}}` with its plaintext (only ever typed, never stored)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise MissingSecret(name)
        return values[name]

    return SECRET_PLACEHOLDER.sub(one, text)


def _secret_pattern(secret: str) -> re.Pattern[str]:
    # Whitespace inside a secret matches any whitespace run: the page (or our own
    # normalising) may have turned "pass  word" into "pass word" or "pass\nword".
    parts = [re.escape(p) for p in secret.split()]
    if not parts:  # all whitespace: nothing to be tolerant about, it is matched as typed
        return re.compile(re.escape(secret))
    return re.compile(r"\s+".join(parts))


def scrub(text: str, plaintexts: Iterable[str]) -> str:
    """Remove every known plaintext from text bound for the log (errors, observations).

    Runs on the whole text, before any clipping or whitespace normalising: a clipped
    secret's first half would no longer match, and would be logged.
    """
    for secret in sorted({p for p in plaintexts if p}, key=len, reverse=True):
        text = _secret_pattern(secret).sub(REDACTED, text)
    return text


def secret_window(limit: int, plaintexts: Iterable[str]) -> int:
    """How much text to read so that clipping at `limit` after scrubbing leaks nothing:
    every secret that begins inside the first `limit` characters is read whole."""
    return limit + max((len(p) for p in plaintexts), default=0)


# --------------------------------------------------------------------------- observations


@dataclass(frozen=True, slots=True)
class ObservationLimits:
    """How big an observation may get: the model reads every element of it."""

    max_elements: int = 150
    max_text: int = 120
    max_options: int = 25
    # Drawn shapes listed per page (SVG paths, circles...): past this they are only counted in
    # `omitted`, so a chart of 5,000 paths costs no more than its first few hundred.
    max_shapes: int = 300


def well_formed(text: str) -> str:
    """Text as valid Unicode: a lone UTF-16 surrogate (a page's own, or half of an emoji cut
    in two) becomes U+FFFD. Such a string cannot be encoded, so the event carrying it could
    never be written: every string read off a page goes through here."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _clip(value: str, limit: int) -> str:
    value = " ".join(well_formed(value).split())
    return value if len(value) <= limit else value[: max(limit - 1, 0)] + "…"


def _value_end(end: str, limits: ObservationLimits) -> str:
    # Read with the secrets' margin at its front (a secret ending in the kept part is read
    # whole, so scrubbed), then cut to the limit from the end.
    end = well_formed(end)
    return end if len(end) <= limits.max_text else "…" + end[-(limits.max_text - 1) :]


def _clip_value(value: str, limit: int) -> str:
    # A field's value keeps its own spacing and line breaks: copied elsewhere, it must be
    # the same text.
    value = well_formed(value)
    return value if len(value) <= limit else value[: max(limit - 1, 0)] + "…"


HEX_COLOR = re.compile(r"^#[0-9a-f]{6}$")


def _number(value: object) -> float | None:
    # The page's script says what it read; only a finite number is passed on.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _priority(raw: Mapping[str, Any]) -> int:
    """Lower first: what a person would look at before the rest."""
    visible = bool(raw.get("visible"))
    in_view = bool(raw.get("in_viewport"))
    interactive = bool(raw.get("interactive"))
    if visible and interactive:
        return 0 if in_view else 1
    if visible:
        return 2 if in_view else 3
    return 4 if interactive else 5


def compact_elements(
    raw_elements: Sequence[Mapping[str, Any]],
    limits: ObservationLimits,
    secrets: Iterable[str] = (),
) -> tuple[list[PageElement], int]:
    """Choose and shorten the elements the observer script found.

    Keeps at most `max_elements`, visible and interactive ones first, then restores
    document order: the order the script listed them in, not their ids (an id is stamped
    when an element is first seen, so items reordered by a drag keep their old ids).
    Hidden text is dropped entirely: it only costs the model tokens; a shape outside its
    drawing (`offstage`) is kept, without a box, last. Returns (elements, how
    many were left out).
    """
    plaintexts = list(secrets)
    candidates = [
        (order, r)
        for order, r in enumerate(raw_elements)
        if r.get("visible") or r.get("interactive") or r.get("offstage")
    ]
    ranked = sorted(candidates, key=lambda c: (_priority(c[1]), c[0]))
    kept = [r for _, r in sorted(ranked[: limits.max_elements], key=lambda c: c[0])]
    out: list[PageElement] = []
    for r in kept:
        value = r.get("value")
        box = r.get("box")
        color = str(r.get("color") or "")
        out.append(
            PageElement(
                id=int(r["id"]),
                role=str(r.get("role") or "generic"),
                name=_clip(scrub(str(r.get("name") or ""), plaintexts), limits.max_text),
                text=_clip(scrub(str(r.get("text") or ""), plaintexts), limits.max_text),
                value=None
                if value is None
                else _clip_value(scrub(str(value), plaintexts), limits.max_text),
                value_end=_value_end(scrub(str(r.get("value_end") or ""), plaintexts), limits),
                tag=str(r.get("tag") or ""),
                checked=r.get("checked"),
                selected=r.get("selected"),
                disabled=bool(r.get("disabled")),
                expanded=r.get("expanded"),
                options=[
                    _clip(scrub(str(o), plaintexts), limits.max_text)
                    for o in list(r.get("options") or [])[: limits.max_options]
                ],
                box=Box(*(round(float(v)) for v in box)) if box else None,
                value_min=_number(r.get("value_min")),
                value_max=_number(r.get("value_max")),
                value_step=_number(r.get("value_step")),
                shape=str(r.get("shape") or "")[:16],
                color=color if HEX_COLOR.match(color) else "",
                styles=[str(x)[:20] for x in list(r.get("styles") or [])[:6]],
                point=_point(r.get("point")),
            )
        )
    return out, len(raw_elements) - len(out)


def _point(raw: object) -> tuple[int, int] | None:
    # The script's [x, y] inside a shape, relative to its box; anything else is no point.
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(v, int | float) for v in raw):
        return round(float(raw[0])), round(float(raw[1]))
    return None

"""What a person picks by sight: a shape, a colour, a shade, a size.

"Click on the red colored box", "click on a small blue circle", "click on a large 7",
"select all the shades of green": the observer reports each drawn shape (SVG) and colour
swatch with its kind and colour (#rrggbb), and this skill matches the goal's words against
them. Colour names are the CSS ones; a named colour matches the swatch whose nearest CSS
colour it is, a *shade* of a colour is anything of that hue, light or dark. Sizes are
relative: where the shapes drawn come in clearly different sizes, "large" is the bigger group;
where they are all of one size, they are large only if bigger than the page's own text.
"""

from __future__ import annotations

import colorsys
import itertools
import re

import msgspec

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.page import PageView, center
from macrohard.planner_model.web_planner.skills.base import SKILLS, Ctx, PastStep, say, skill

CSS_COLORS = {
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "aqua": (0, 255, 255),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "magenta": (255, 0, 255),
    "yellow": (255, 255, 0),
    "olive": (128, 128, 0),
    "lime": (0, 255, 0),
    "grey": (128, 128, 128),
    "purple": (128, 0, 128),
    "orange": (255, 165, 0),
    "pink": (255, 192, 203),
    "brown": (165, 42, 42),
    "navy": (0, 0, 128),
    "teal": (0, 128, 128),
    "maroon": (128, 0, 0),
    "silver": (192, 192, 192),
    "gold": (255, 215, 0),
    "violet": (238, 130, 238),
    "indigo": (75, 0, 130),
}
SAME_COLOR = {"cyan": "aqua", "fuchsia": "magenta", "gray": "grey"}
SIZES = {"small": "small", "tiny": "small", "little": "small", "large": "large", "big": "large"}
# What the goal calls a kind of thing -> the observed kinds it covers ("" = anything).
KINDS: dict[str, frozenset[str]] = {
    "circle": frozenset({"circle", "ellipse"}),
    "rectangle": frozenset({"rect"}),
    "square": frozenset({"rect"}),
    "triangle": frozenset({"polygon"}),
    "shape": frozenset({"circle", "ellipse", "rect", "polygon"}),
    "letter": frozenset({"letter"}),
    "digit": frozenset({"digit"}),
    "number": frozenset({"digit"}),
    "item": frozenset(),
    "box": frozenset(),
    "object": frozenset(),
}
FILLERS = frozenset({"colored", "coloured", "color", "colour", "one", "of", "the"})
_CLICK = re.compile(
    r"(?:click|select|press|tap|choose|pick|find\s+and\s+click)\s+(?:on\s+)?"
    r"(?:(all)\s+)?(?:a|an|the|one)?\s*(.+)$",
    re.I,
)


def color_name(word: str) -> str:
    w = word.lower()
    return SAME_COLOR.get(w, w) if SAME_COLOR.get(w, w) in CSS_COLORS else ""


def _singular(word: str) -> str:
    w = word.lower()
    return w[:-1] if w.endswith("s") and w[:-1] in KINDS else w


@clause(45)
def visual_clause(c: str, q: list[str]) -> list[Step] | None:
    """A click whose object is described only by sight: colour, size, shape, a glyph."""
    m = _CLICK.match(c)
    if m is None:
        return None
    every, desc = bool(m.group(1)), unq(m.group(2), q)
    if shade := re.fullmatch(r"(?:the\s+)?shades?\s+of\s+(\w+)", desc, re.I):
        name = color_name(shade.group(1))
        return [Step(kind="click_shades", value=name)] if name else None
    look = looks_step(desc)
    if look is None:
        return None
    return [msgspec.structs.replace(look, alt_target=desc, all_fields=every)]


def looks_step(desc: str) -> Step | None:
    """A description by looks alone ('small blue circle', 'large 7', 'red items') as a
    `click_visual` step; None when a word in it is not about looks."""
    color, size, kind, glyph = "", "", "", ""
    for word in desc.split():
        w = _singular(word)
        if color_name(w):
            color = color_name(w)
        elif w in SIZES:
            size = SIZES[w]
        elif w in KINDS:
            kind = w
        elif len(word) == 1 and word.isalnum():
            glyph = word
        elif len(word) == 2 and word[1] == "s" and word[0].isalnum() and kind == "":
            glyph = word[0]  # "how many 7s": a glyph in the plural
        elif w not in FILLERS:
            return None  # a word that is not about looks: an ordinary click
    if not (color or size or kind or glyph):
        return None
    # The size word rides in `case`: no other field fits a look.
    return Step(kind="click_visual", value=color, kind_hint=kind, target=glyph, case=size)


def drawn(view: PageView) -> list[PageElement]:
    """The things on the page a person picks by sight (never a canvas: pixels only)."""
    return [e for e in view.elements if e.shape and e.shape != "canvas" and e.box is not None]


def kind_of(e: PageElement) -> str:
    if e.shape == "text":
        t = (e.text or e.name).strip()
        return "digit" if t.isdigit() else "letter" if t.isalpha() else "text"
    return e.shape


def dim(e: PageElement) -> float:
    """A drawn thing's size as a person judges it: a glyph's height, a shape's extent."""
    assert e.box is not None
    return e.box.h if e.shape == "text" else max(e.box.w, e.box.h)


def nearest_color(hex_color: str) -> str:
    rgb = _rgb(hex_color)
    return min(
        CSS_COLORS,
        key=lambda n: sum((a - b) ** 2 for a, b in zip(CSS_COLORS[n], rgb, strict=True)),
    )


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16)


def hue_family(rgb: tuple[int, int, int]) -> str:
    """Which of the six hues (red, yellow, green, aqua, blue, magenta) a colour is a shade
    of; '' for greys, which are a shade of nothing."""
    h, lightness, s = colorsys.rgb_to_hls(*(v / 255 for v in rgb))
    if s < 0.1 or lightness < 0.05 or lightness > 0.97:
        return ""
    return ("red", "yellow", "green", "aqua", "blue", "magenta")[round(h * 6) % 6]


def large_from(things: list[PageElement], view: PageView) -> float:
    """The size (`_dim`) from which a drawn thing counts as large: above the widest gap
    between the sizes drawn (a ratio of 1.4 or more); with one size only, above the height
    of a line of the page's ordinary text (a 10-pixel square next to 11-pixel text is small)."""
    dims = sorted({dim(e) for e in things})
    gaps = [(b / a, b) for a, b in itertools.pairwise(dims) if a > 0]
    ratio, above = max(gaps, default=(1.0, 0.0))
    if ratio >= 1.4:
        return above
    lines = sorted(
        e.box.h
        for e in view.elements
        if e.text and not e.shape and e.box is not None and e.role not in ("button", "textbox")
    )
    line = lines[len(lines) // 2] if lines else 16
    return line + 0.5


def matches(step: Step, view: PageView) -> list[PageElement]:
    things = drawn(view)
    if not things:
        return []
    threshold = large_from(things, view)
    out = []
    for e in things:
        if step.value and (not e.color or nearest_color(e.color) != step.value):
            continue
        if step.case:
            large = dim(e) >= threshold
            if large != (step.case == "large"):
                continue
        kinds = KINDS.get(step.kind_hint, frozenset())
        if kinds and kind_of(e) not in kinds:
            continue
        if step.target and (e.text or e.name).strip() != step.target:
            continue
        out.append(e)
    return sorted(out, key=lambda e: (center(e)[1], center(e)[0]))


def _clicked_ids(own: list[PastStep]) -> set[int | None]:
    return {h.intent.element for h in own if h.ok and h.intent.action == "click"}


@skill("click_visual")
def click_visual(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    done = _clicked_ids(own)
    found = matches(step, ctx.view)
    if not found:
        if step.all_fields and done:
            return None
        # Nothing drawn fits: the words may name an ordinary control after all.
        plain = Step(kind="click", target=step.alt_target, kind_hint=step.kind_hint)
        return SKILLS["click"](plain, ctx, own)
    todo = [e for e in found if e.id not in done]
    if not todo or (done and not step.all_fields):
        return None
    e = todo[0]
    return Intent(action="click", element=e.id, reason=f"click {say(e)} {e.shape} {e.color}")


@skill("click_shades")
def click_shades(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    done = _clicked_ids(own)
    family = hue_family(CSS_COLORS[step.value])
    for e in sorted(drawn(ctx.view), key=lambda e: (center(e)[1], center(e)[0])):
        if e.color and e.id not in done and hue_family(_rgb(e.color)) == family:
            why = f"a shade of {step.value}: {e.color}"
            return Intent(action="click", element=e.id, reason=why)
    return None

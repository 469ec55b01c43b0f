"""Answers computed from what a page shows: arithmetic, a linear equation's unknown, number
categories (odd/even, positive/negative), comparisons and superlatives, numbers in text.

Pure functions of text and numbers: no page, no I/O, so each is tested exhaustively.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

NUMBER = re.compile(r"[-\u2212]?\$?\d[\d,]*(?:\.\d+)?|[-\u2212]?\.\d+")
_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+|[a-zA-Z]\w*|[-+*/\u00d7\u00f7\u2212()=^])")


class NotArithmetic(ValueError):
    """The text is not an expression this module can evaluate."""


def numbers_in(text: str) -> list[float]:
    """Every number written in `text`, in order: '-3', '$1,204.50', '.5'."""
    out = []
    for m in NUMBER.finditer(text):
        raw = m.group(0).replace("\u2212", "-").replace("$", "").replace(",", "")
        try:
            out.append(float(raw))
        except ValueError:
            continue
    return out


def _tokens(text: str) -> list[str]:
    text = text.strip()
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip() == "":
                break
            raise NotArithmetic(f"cannot read {text[pos:]!r}")
        out.append({"\u00d7": "*", "\u00f7": "/", "\u2212": "-"}.get(m.group(1), m.group(1)))
        pos = m.end()
    return out


def _evaluate(tokens: list[str], var: str, x: Fraction) -> Fraction:
    """Recursive descent over + - * / ^, unary minus, parentheses, implicit product (2x)."""
    pos = 0

    def peek() -> str:
        return tokens[pos] if pos < len(tokens) else ""

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise NotArithmetic("the expression ends too early")
        pos += 1
        return tokens[pos - 1]

    def atom() -> Fraction:
        t = peek()
        if t == "-":
            take()
            return -atom()
        if t == "+":
            take()
            return atom()
        if t == "(":
            take()
            v = expr()
            if take() != ")":
                raise NotArithmetic("unbalanced parentheses")
            return v
        if t and (t[0].isdigit() or t[0] == "."):
            take()
            return Fraction(t)
        if t and t == var:
            take()
            return x
        raise NotArithmetic(f"unexpected {t!r}")

    def power() -> Fraction:
        base = atom()
        if peek() == "^":
            take()
            exp = power()
            if exp.denominator != 1:
                raise NotArithmetic("fractional power")
            return Fraction(base) ** int(exp)
        return base

    def term() -> Fraction:
        v = power()
        while True:
            t = peek()
            if t in ("*", "/"):
                take()
                rhs = power()
                if t == "/" and rhs == 0:
                    raise NotArithmetic("division by zero")
                v = v * rhs if t == "*" else v / rhs
            elif t == "(" or (t and t == var) or (t and (t[0].isdigit() or t[0] == ".")):
                v = v * power()  # implicit product: 2x, 3(x+1)
            else:
                return v

    def expr() -> Fraction:
        v = term()
        while peek() in ("+", "-"):
            v = v + term() if take() == "+" else v - term()
        return v

    value = expr()
    if pos != len(tokens):
        raise NotArithmetic(f"unexpected {tokens[pos]!r}")
    return value


def evaluate(expression: str) -> Fraction:
    """The value of an arithmetic expression: '3 + 4 * 2' -> 11, '(1 - 7) / 2' -> -3."""
    tokens = _tokens(expression.rstrip("=?").strip())
    if not tokens:
        raise NotArithmetic("empty expression")
    return _evaluate(tokens, "", Fraction(0))


def solve_linear(equation: str, var: str = "x") -> Fraction:
    """The unknown of a linear equation: '3 - x = 1' -> 2, '2x + 1 = 7' -> 3."""
    if equation.count("=") != 1:
        raise NotArithmetic("not an equation")
    left, right = equation.split("=")
    lt, rt = _tokens(left), _tokens(right)
    if var not in lt + rt:
        raise NotArithmetic(f"no {var} in the equation")

    def f(x: Fraction) -> Fraction:
        return _evaluate(lt, var, x) - _evaluate(rt, var, x)

    f0, f1, f2 = f(Fraction(0)), f(Fraction(1)), f(Fraction(2))
    slope = f1 - f0
    if slope == 0 or f2 - f1 != slope:
        raise NotArithmetic("not linear in one unknown")
    return -f0 / slope


def show(value: Fraction | float) -> str:
    """A number as a person types it: 4, -3, 2.5 (no trailing .0)."""
    v = Fraction(value)
    if v.denominator == 1:
        return str(v.numerator)
    return f"{float(v):g}"


_CATEGORIES: dict[str, Callable[[float], bool]] = {
    "odd": lambda n: n == int(n) and int(n) % 2 == 1,
    "even": lambda n: n == int(n) and int(n) % 2 == 0,
    "positive": lambda n: n > 0,
    "negative": lambda n: n < 0,
    "zero": lambda n: n == 0,
}


def category(n: float, names: list[str]) -> str | None:
    """Which of `names` ('odd', 'even', 'positive', ...) the number belongs to."""
    for name in names:
        test = _CATEGORIES.get(name.lower())
        if test is not None and test(n):
            return name
    return None


def holds(n: float, condition: str) -> bool | None:
    """Whether `n` meets a condition as people word it: 'less than 5', 'greater than 3',
    'at least 2', 'odd', 'even', 'between 2 and 4'. None: the condition is not understood."""
    c = condition.lower().strip()
    if c in _CATEGORIES:
        return _CATEGORIES[c](n)
    nums = numbers_in(c)
    if m := re.search(r"between\b", c):
        _ = m
        if len(nums) >= 2:
            lo, hi = sorted(nums[:2])
            return lo <= n <= hi
        return None
    if not nums:
        return None
    compared = comparison(c)
    return None if compared is None else OPERATORS[compared[0]](n, compared[1])


# A condition's wording -> its operator, the first that matches ("less than or equal" before
# "less").
_WORDED = (
    (r"(?:less|fewer|lower|smaller|below|under)\s+than\s+or\s+equal", "<="),
    (r"(?:greater|more|higher|larger|bigger)\s+than\s+or\s+equal", ">="),
    (r"at\s+most|no\s+more\s+than", "<="),
    (r"at\s+least|no\s+less\s+than", ">="),
    (r"less|fewer|lower|smaller|below|under|cheaper", "<"),
    (r"greater|more|higher|larger|bigger|above|over", ">"),
    (r"equal|exactly|^is\b", "="),
)
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
}


def comparison(condition: str) -> tuple[str, float] | None:
    """A worded comparison with one number as (operator, number): 'less than $53.10' ->
    ('<', 53.1); None when it is not one ('between 2 and 4', 'odd')."""
    c = condition.lower().strip()
    nums = numbers_in(c)
    if not nums or re.search(r"between\b", c):
        return None
    for pattern, op in _WORDED:
        if re.search(pattern, c):
            return op, nums[0]
    return None


SMALLEST = frozenset(
    {"smallest", "least", "lowest", "cheapest", "shortest", "minimum", "fewest", "earliest"}
)
GREATEST = frozenset(
    {
        "greatest",
        "largest",
        "biggest",
        "highest",
        "most",
        "longest",
        "maximum",
        "latest",
        "priciest",
    }
)


def extreme(word: str) -> str | None:
    """'cheapest' -> 'min', 'greatest' -> 'max' (None: not a superlative)."""
    w = word.lower()
    if w in SMALLEST:
        return "min"
    if w in GREATEST or w == "expensive":
        return "max"
    return None


def duration_s(text: str) -> float | None:
    """A duration written the usual ways, in seconds: '5h 3m', '2 hours 10 minutes', '1:30'."""
    t = text.lower()
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    found = re.findall(
        r"(\d+(?:\.\d+)?)\s*(d|day|days|h|hr|hrs|hours?|m|min|mins|minutes?|s|sec|secs|seconds?)\b",
        t,
    )
    if found:
        return sum(float(n) * units[u[0]] for n, u in found)
    if m := re.fullmatch(r"\s*(\d+):(\d{2})(?::(\d{2}))?\s*", t):
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        return h * 3600 + mi * 60 + s
    return None

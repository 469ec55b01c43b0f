"""The reasoning parts of the planner model: arithmetic, equations, number categories,
conditions, superlatives and durations, as pure functions."""

from __future__ import annotations

from fractions import Fraction

import pytest

from macrohard.planner_model.web_planner.reason import (
    NotArithmetic,
    category,
    comparison,
    duration_s,
    evaluate,
    extreme,
    holds,
    numbers_in,
    show,
    solve_linear,
)


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("3 + 4 * 2", 11),
        ("(1 - 7) / 2", -3),
        ("-3 - -4", 1),
        ("2 ^ 3 ^ 2", 512),
        ("7 \u00d7 6", 42),
        ("9 \u00f7 4", Fraction(9, 4)),
        ("10 \u2212 12", -2),
        ("2(3 + 1)", 8),
        ("1.5 + .5", 2),
        (["What ", "3 + 4?"][1], 7),
    ],
)
def test_evaluate(expression: str, value: Fraction) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize("bad", ["", "3 +", "(1 + 2", "1 / 0", "2 ^ 0.5", "three", "1 2 )"])
def test_evaluate_refuses_what_is_not_arithmetic(bad: str) -> None:
    with pytest.raises(NotArithmetic):
        evaluate(bad)


@pytest.mark.parametrize(
    ("equation", "x"),
    [
        ("x + 3 = 40", 37),
        ("x - 3 = 40", 43),
        ("7 - x = 50", -43),
        ("9 + x = 9", 0),
        ("2x + 1 = 7", 3),
        ("3(x - 1) = 12", 5),
        ("x / 4 = 2.5", 10),
        ("40 = x - 3", 43),
        ("2x = 5", Fraction(5, 2)),
    ],
)
def test_solve_linear(equation: str, x: Fraction) -> None:
    assert solve_linear(equation) == x


@pytest.mark.parametrize("bad", ["x + 1", "x * x = 4", "x - x = 1", "y + 1 = 2", "1 = 1 = 1"])
def test_solve_linear_refuses_what_it_cannot_solve(bad: str) -> None:
    with pytest.raises(NotArithmetic):
        solve_linear(bad)


def test_show_writes_numbers_as_people_type_them() -> None:
    assert [show(Fraction(4)), show(Fraction(-3)), show(Fraction(5, 2)), show(2.0)] == [
        "4", "-3", "2.5", "2",
    ]  # fmt: skip


def test_numbers_in_text() -> None:
    assert numbers_in("Book for $1,204.50, or -3 and .5 \u22122") == [1204.5, -3, 0.5, -2]
    assert numbers_in("no digits") == []


@pytest.mark.parametrize(
    ("n", "names", "expected"),
    [
        (3, ["odd", "even"], "odd"),
        (-3, ["odd", "even"], "odd"),
        (0, ["odd", "even"], "even"),
        (-4, ["odd", "even"], "even"),
        (2.5, ["odd", "even"], None),
        (-1, ["positive", "negative"], "negative"),
        (0, ["positive", "negative"], None),
        (3, ["red", "blue"], None),
    ],
)
def test_category(n: float, names: list[str], expected: str | None) -> None:
    assert category(n, names) == expected


@pytest.mark.parametrize(
    ("n", "condition", "expected"),
    [
        (4, "greater than 3", True),
        (3, "greater than 3", False),
        (2, "less than 3", True),
        (3, "less than 3", False),
        (3, "less than or equal to 3", True),
        (3, "at least 3", True),
        (2, "at least 3", False),
        (5, "at most 4", False),
        (5, "odd", True),
        (6, "even", True),
        (3, "between 2 and 4", True),
        (5, "between 2 and 4", False),
        (52.9, "less than $53.10", True),
        (3, "equal to 3", True),
        (3, "purple", None),
        (3, "more than many", None),
    ],
)
def test_holds(n: float, condition: str, expected: bool | None) -> None:
    assert holds(n, condition) is expected


def test_a_worded_comparison_becomes_an_operator_and_its_number() -> None:
    # What the planner hands the actuator's click_when, which checks it inside the page.
    assert comparison("less than $53.10") == ("<", 53.1)
    assert comparison("no more than 12") == ("<=", 12)
    assert comparison("greater than or equal to -2") == (">=", -2)
    assert comparison("above 1,000") == (">", 1000)
    assert comparison("between 2 and 4") is None
    assert comparison("odd") is None


def test_superlatives_and_durations() -> None:
    assert [extreme(w) for w in ("cheapest", "Shortest", "greatest", "longest", "big")] == [
        "min", "min", "max", "max", None,
    ]  # fmt: skip
    assert duration_s("5h 3m") == 5 * 3600 + 180
    assert duration_s("2 hours 10 minutes") == 2 * 3600 + 600
    assert duration_s("1:30") == 5400
    assert duration_s("soon") is None

"""Cron expressions: parsing errors say what is wrong; ticks are exactly the matching minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from macrohard.scheduler.cron import CronError, parse_cron

T = datetime(2026, 11, 28, 12, 7, 30, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "expected 5 fields"),
        ("60 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day of month"),
        ("* * * 13 *", "month"),
        ("* * * * 8", "day of week"),
        ("*/0 * * * *", "step"),
        ("a * * * *", "minute"),
        ("5-1 * * * *", "minute"),
    ],
)
def test_malformed_expressions_say_which_field(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(expression)


def test_every_minute() -> None:
    c = parse_cron("* * * * *")
    assert c.next_after(T) == datetime(2026, 11, 28, 12, 8, tzinfo=UTC)
    assert c.latest_at_or_before(T) == datetime(2026, 11, 28, 12, 7, tzinfo=UTC)


def test_working_hours_skip_the_weekend() -> None:
    c = parse_cron("*/15 9-17 * * 1-5")
    assert c.next_after(T) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday
    assert c.latest_at_or_before(T) == datetime(2026, 11, 27, 17, 45, tzinfo=UTC)  # Friday


def test_sunday_is_0_and_7_and_leap_days_are_found() -> None:
    assert parse_cron("0 0 * * 0").weekdays == parse_cron("0 0 * * 7").weekdays == {6}
    c = parse_cron("0 0 29 2 *")
    assert c.next_after(T) == datetime(2028, 2, 29, tzinfo=UTC)
    assert c.latest_at_or_before(T) == datetime(2024, 2, 29, tzinfo=UTC)


def test_both_day_fields_restricted_match_either() -> None:
    c = parse_cron("0 6 1 * 1")  # the 1st of the month, or any Monday (Vixie cron)
    assert c.next_after(T) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # a Monday
    after = datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert c.next_after(after) == datetime(2026, 12, 1, 6, tzinfo=UTC)


EXPRESSIONS = ["* * * * *", "*/7 * * * *", "5 4 * * *", "0 0 1,15 * *", "30 8-10 * 2,6 1-5",
               "0 12 31 * *", "15 */6 * * 0"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    expression=st.sampled_from(EXPRESSIONS),
    minutes=st.integers(min_value=0, max_value=60 * 24 * 366 * 3),
)
def test_ticks_are_exactly_the_matching_minutes(expression: str, minutes: int) -> None:
    c = parse_cron(expression)
    at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes, seconds=17)
    nxt, prev = c.next_after(at), c.latest_at_or_before(at)
    assert nxt is not None and prev is not None
    assert c.matches(nxt) and c.matches(prev) and prev <= at < nxt
    # Nothing matches strictly between them (checked minute by minute over a bounded gap).
    if nxt - prev <= timedelta(days=2):
        probe = prev + timedelta(minutes=1)
        while probe < nxt:
            assert not c.matches(probe), probe
            probe += timedelta(minutes=1)
    assert c.next_after(prev) == nxt

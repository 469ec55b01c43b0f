"""`mh node`'s owner's-terms flags: what an owner types becomes bounded hours and charge."""

from __future__ import annotations

import argparse

import pytest

from macrohard.cli.node_cmd import charge, work_hours


def test_work_hours_wrap_past_midnight_and_join_lists() -> None:
    assert work_hours("22-7") == [22, 23, 0, 1, 2, 3, 4, 5, 6, 7]
    assert work_hours("9,12-14,13") == [9, 12, 13, 14]
    assert work_hours("0-23") == list(range(24))


@pytest.mark.parametrize("text", ["24", "-1", "7-25", "nine", "", "3-"])
def test_bad_hours_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="hours 0-23"):
        work_hours(text)


@pytest.mark.parametrize("text", ["1.5", "-0.1", "nan", "full"])
def test_a_charge_outside_0_to_1_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="between 0 and 1"):
        charge(text)
    assert charge("0.4") == 0.4

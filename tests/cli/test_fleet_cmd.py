"""`mh fleet simulate --dishonest`: the offline day, as typed, prints its figures."""

from __future__ import annotations

import pytest

from macrohard.cli.main import build_parser


def test_offline_simulate_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["fleet", "simulate", "--nodes", "400", "--hours", "24", "--dishonest", "0.05"]
    )
    assert args.func(args) == 0
    figures = dict(line.split(" ", 1) for line in capsys.readouterr().out.splitlines())
    for name in ("parked_share", "leases", "dishonest_detected_share", "wrong_answers_billed",
                 "overpaid_share", "wall_s"):  # fmt: skip
        assert name in figures
    assert figures["nodes"] == "400" and int(figures["leases"]) > 400

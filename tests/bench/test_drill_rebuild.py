"""The drill's rebuild verdict names what differs, and never reads an error as equal."""

from __future__ import annotations

import json

from macrohard.bench.drill_rebuild import differing_rows, parse_verdict

VERDICT = {
    "differences": 2,
    "projections": [
        {"projection": "gateway", "position": 3500, "skipped": "", "differences": 0,
         "tables": [{"table": "gateway.tasks", "live_rows": 100, "shadow_rows": 100,
                     "differences": [], "count": 0}]},
        {"projection": "billing", "position": 3502, "skipped": "", "differences": 2,
         "tables": [{"table": "billing.usage_records", "live_rows": 2140, "shadow_rows": 2139,
                     "differences": ["billing.usage_records [event_id=e1]: in live only: {}"],
                     "count": 2}]},
    ],
}  # fmt: skip


def test_the_differing_table_and_rows_are_named() -> None:
    assert differing_rows(VERDICT) == [
        "billing: billing.usage_records: 2 difference(s) (live 2140 rows, rebuilt 2139) at #3502",
        "  billing.usage_records [event_id=e1]: in live only: {}",
        "  ... and 1 more",
    ]


def test_an_equal_verdict_names_nothing() -> None:
    equal = {"differences": 0, "projections": VERDICT["projections"][:1]}  # type: ignore[index]
    assert parse_verdict(0, json.dumps(equal)) == equal
    assert differing_rows(equal) == []


def test_a_run_that_failed_before_judging_gives_no_verdict() -> None:
    # A traceback (exit 1, nothing on stdout), a usage error (exit 2), garbage.
    assert parse_verdict(1, "") is None
    assert parse_verdict(2, json.dumps(VERDICT)) is None
    assert parse_verdict(1, "Traceback (most recent call last):") is None
    assert parse_verdict(0, "[]") is None
    assert parse_verdict(1, json.dumps(VERDICT)) == VERDICT

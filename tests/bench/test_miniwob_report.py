"""The bench's per-task table: every task of the list, its success over its episodes, and
each failure reason counted, in a Markdown table that pastes as is."""

from __future__ import annotations

from macrohard.bench.miniwob_report import per_task, task_table
from macrohard.bench.miniwob_scoring import Episode


def test_the_per_task_table_counts_each_failure_reason() -> None:
    timed_out = "timed out after 90 s"
    episodes = [
        Episode("click-a", 0, "Click A.", 1.0, 1, 2.0),
        Episode("click-a", 1, "Click A.", -1.0, 2, 4.0, "wrong answer | the page said no"),
        Episode("click-a", 2, "Click A.", 0.0, 0, 90.0, timed_out),
        Episode("click-a", 3, "Click A.", 0.0, 0, 90.0, timed_out),
        Episode("type-b", 0, "Type B.", 0.0, 0, 1.0, "x" * 300),
    ]
    rows = per_task(["click-a", "type-b", "never-run"], episodes)
    assert rows["click-a"]["success"] == 0.25 and rows["click-a"]["episodes"] == 4
    assert rows["click-a"]["reasons"] == {timed_out: 2, "wrong answer | the page said no": 1}
    assert rows["never-run"] == {
        "success": 0.0, "episodes": 0, "mean_steps": 0.0, "mean_wall_s": 0.0, "reasons": {}
    }  # fmt: skip
    lines = task_table(rows)
    assert lines[0].startswith("| task | success | episodes |")
    assert lines[2] == (
        f"| click-a | 0.25 | 4 | 0.8 | 46.5 | 2: {timed_out}; 1: wrong answer / the page said no |"
    )
    # A long reason is cut to fit a cell; every row has the same number of cells.
    assert len(lines[3]) < 200 and lines[3].endswith("… |")
    assert {line.count("|") for line in lines} == {7}

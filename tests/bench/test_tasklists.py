"""Task lists are data: named lists ship with the bench, a file or 'a,b' works too."""

from __future__ import annotations

from pathlib import Path

from macrohard.bench.tasklists import list_names, task_list


def test_named_lists_ship_with_the_bench_and_have_no_duplicates() -> None:
    assert {"first", "second", "replay-cache"} <= set(list_names())
    first, second, shapes = task_list("first"), task_list("second"), task_list("replay-cache")
    assert (len(first), len(second), len(shapes)) == (25, 52, 20)
    for tasks in (first, second, shapes):
        assert len(set(tasks)) == len(tasks)
        assert all(t and "#" not in t and " " not in t for t in tasks)
    assert set(shapes) <= set(first)  # replay shapes come from the first list


def test_a_list_file_or_comma_separated_names(tmp_path: Path) -> None:
    own = tmp_path / "mine.txt"
    own.write_text("# my tasks\nalpha  # the first\n\nbeta\n", encoding="utf-8")
    assert task_list(str(own)) == ["alpha", "beta"]
    assert task_list(" alpha, beta ,") == ["alpha", "beta"]
    assert task_list("alpha") == ["alpha"]  # no list of that name: one task


def test_no_source_outside_the_task_lists_names_a_listed_task() -> None:
    """The agent must generalise: no shipped code (model, services, bench) may name a benchmark
    task. Tests may (they replay recorded runs); the lists themselves are data."""
    root = Path(__file__).resolve().parents[2]
    names = {t for lst in ("first", "second", "replay-cache") for t in task_list(lst) if "-" in t}
    offenders = []
    sources = [
        f for src in (*root.glob("*/src"), *root.glob("services/*/src")) for f in src.rglob("*")
    ]
    for source in sources:
        if (
            source.suffix not in {".py", ".js", ".html", ".json", ".txt"}
            or "tasklists" in source.parts
        ):
            continue
        text = source.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{source.relative_to(root)}: {n}" for n in names if n in text]
    assert not offenders, offenders

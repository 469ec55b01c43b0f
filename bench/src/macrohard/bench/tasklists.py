"""Which MiniWoB++ task pages a bench runs: named lists kept as data (`tasklists/*.txt`, one
task a line, `#` comments), so no module of the bench names a task.

`--tasks first` reads the list named `first`; `--tasks path/to/list.txt` a list file of your
own; anything else is a comma-separated list of task names.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def list_names() -> list[str]:
    """The named lists shipped with the bench."""
    folder = resources.files("macrohard.bench") / "tasklists"
    return sorted(p.name.removesuffix(".txt") for p in folder.iterdir() if p.name.endswith(".txt"))


def _read(text: str) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def task_list(spec: str) -> list[str]:
    """The task names `spec` stands for: a named list, a list file, or 'a,b,c'."""
    spec = spec.strip()
    named = resources.files("macrohard.bench") / "tasklists" / f"{spec}.txt"
    if "," not in spec and named.is_file():
        return _read(named.read_text(encoding="utf-8"))
    if "," not in spec and spec.endswith(".txt") and Path(spec).is_file():
        return _read(Path(spec).read_text(encoding="utf-8"))
    return [t.strip() for t in spec.split(",") if t.strip()]


def tasks_help() -> str:
    return f"a named list ({', '.join(list_names())}), a list file (.txt) or 'task-a,task-b'"

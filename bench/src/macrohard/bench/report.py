"""Printing and saving benchmark results the same way for every benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def report(
    title: str,
    results: dict[str, Any],
    json_path: Path | None,
    targets: dict[str, str] | None = None,
) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target")
    for key, value in results.items():
        if isinstance(value, dict | list):
            continue
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        table.add_row(key, shown, (targets or {}).get(key, ""))
    Console().print(table)
    if json_path:
        json_path.write_text(json.dumps(results, indent=2) + "\n")

"""The drill's `rebuild_equal`: `mh replay --verify`, run as an operator runs it, and what
differed when it is false.

A bare exit status could not tell a read model that differs from a verify that could not
run (a NATS node or PostgreSQL still restarting after the drill's last kill): both read
"False". The verify's JSON verdict names each table and row that differs; a run that
produced no verdict is tried again (it changes nothing: it rebuilds into a scratch
database), and its error is shown, never counted as equal.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

ATTEMPTS = 3
PAUSE_S = 10.0  # between attempts: a restarted server is back within seconds


@dataclass
class RebuildVerdict:
    equal: bool
    # Which table/rows differ ("billing.usage_records [event_id=...] amount: live=1 rebuilt=2"),
    # or why the verify could not say.
    differences: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # attempts that gave no verdict


def differing_rows(verdict: dict[str, Any]) -> list[str]:
    """Each differing table of a `mh replay --verify --json` verdict, then its rows."""
    lines: list[str] = []
    for projection in verdict.get("projections", []):
        for table in projection.get("tables", []):
            count = int(table.get("count", 0))
            if not count:
                continue
            lines.append(
                f"{projection.get('projection')}: {table.get('table')}: {count} difference(s) "
                f"(live {table.get('live_rows')} rows, rebuilt {table.get('shadow_rows')}) "
                f"at #{projection.get('position')}"
            )
            shown = table.get("differences", [])
            lines.extend(f"  {line}" for line in shown)
            if count > len(shown):
                lines.append(f"  ... and {count - len(shown)} more")
    return lines


def parse_verdict(returncode: int, stdout: str) -> dict[str, Any] | None:
    """The verdict of one run; None when it gave none (it failed before judging)."""
    if returncode not in (0, 1):
        return None
    try:
        verdict = json.loads(stdout)
    except json.JSONDecodeError:
        return None
    return verdict if isinstance(verdict, dict) and "differences" in verdict else None


def rebuild_verdict(nats_url: str, dsn: str) -> RebuildVerdict:
    """`mh replay --verify`: every projection rebuilt from the log and diffed with live."""
    errors: list[str] = []
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(PAUSE_S)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "macrohard.cli.main", "replay", "--verify", "--json",
                 "--nats", nats_url, "--database", dsn],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            errors.append("mh replay --verify ran past 600 s")
            continue
        verdict = parse_verdict(done.returncode, done.stdout)
        if verdict is None:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            errors.append(f"exit {done.returncode}: {' | '.join(tail)[:500]}")
            continue
        rows = differing_rows(verdict)
        equal = not rows and not verdict["differences"]
        return RebuildVerdict(equal=equal, differences=rows, errors=errors)
    return RebuildVerdict(False, ["mh replay --verify gave no verdict"], errors)

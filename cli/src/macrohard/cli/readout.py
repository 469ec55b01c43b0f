"""What every debugging command shares: its connections, and how it prints.

Output is plain aligned columns for pipes and logs, rich only on a terminal, JSON with
`--json`. Reading the log itself is `macrohard.eventlog.logview`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import nats

from macrohard.cli.platform import PlatformRef, resolve
from macrohard.eventlog.logview import LogReader
from macrohard.eventlog.service import nats_servers


@dataclass(kw_only=True)
class Session(LogReader):
    """Connections of one command run; the database is optional (index lookups only)."""

    platform: PlatformRef


@contextlib.asynccontextmanager
async def connect(args: argparse.Namespace, *, database: bool = False) -> AsyncIterator[Session]:
    ref = resolve(args)
    # A seed list (`--nats` of a cluster, every node with its credentials) works as one URL.
    servers = nats_servers(ref.nats_url)
    nc = await nats.connect(servers, name="mh-cli", max_reconnect_attempts=2)
    pool = None
    try:
        if database and ref.database_url:
            pool = await asyncpg.create_pool(ref.database_url, min_size=1, max_size=4)
        yield Session(nc=nc, pool=pool, platform=ref)
    finally:
        if pool is not None:
            await pool.close()
        await nc.close()


def key_fields(payload: dict[str, Any], width: int = 80) -> str:
    """The short scalar fields of a payload as `k=v`, for one-line listings."""
    parts: list[str] = []
    for key, value in payload.items():
        if key.endswith("_event_id"):
            continue  # a link, not a fact: `mh events show` has it
        if isinstance(value, dict) and key in ("intent", "observation"):
            # The two nested shapes an operator most wants in one line.
            inner = {k: v for k, v in value.items() if k in ("action", "element", "url", "title")}
            parts.extend(f"{k}={v}" for k, v in inner.items())
            continue
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, float):
            text = f"{value:g}"
        elif isinstance(value, str | int):
            text = str(value)
        else:
            continue
        parts.append(f"{key}={text if len(text) <= 40 else text[:37] + '...'}")
    line = " ".join(parts)
    return line if len(line) <= width else line[: width - 3] + "..."


def wants_rich(args: argparse.Namespace) -> bool:
    return not getattr(args, "json", False) and sys.stdout.isatty()


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def iter_lines(rows: list[list[str]]) -> Iterator[str]:
    """Plain aligned columns for pipes and logs (rich only on a terminal)."""
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        yield "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()

"""Servers for a benchmark: the ones given by URL, else embedded ones on free ports."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from macrohard.devkit.embedded import EmbeddedNats, EmbeddedPostgres, free_port


@dataclass(frozen=True, slots=True)
class BenchServers:
    nats_url: str
    database_url: str


def add_server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nats", dest="nats_url", help="use this NATS (else an embedded one)")
    p.add_argument("--database", dest="database_url", help="use this PostgreSQL")
    p.add_argument("--json", dest="json_path", type=Path, help="write the results here")


@contextmanager
def bench_servers(args: argparse.Namespace) -> Iterator[BenchServers]:
    with tempfile.TemporaryDirectory(prefix="mh-bench-") as tmp:
        started: list[EmbeddedNats | EmbeddedPostgres] = []
        try:
            nats_url = args.nats_url
            if not nats_url:
                n = EmbeddedNats(Path(tmp) / "nats", port=free_port()).start()
                started.append(n)
                nats_url = n.url
            database_url = args.database_url
            if not database_url:
                pg = EmbeddedPostgres(Path(tmp) / "pg", port=free_port()).start()
                started.append(pg)
                database_url = pg.dsn
            yield BenchServers(nats_url, database_url)
        finally:
            for s in reversed(started):
                s.stop()

"""`mh bench <name>`: every benchmark of the `macrohard.bench` package, one subcommand each."""

from __future__ import annotations

import argparse
import importlib

from macrohard.bench import BENCH_MODULES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmarks (figures and ratios, --json FILE)")
    bsub = p.add_subparsers(dest="bench", required=True)
    for name in BENCH_MODULES:
        importlib.import_module(name).register(bsub)

"""`mh bench <name>`: benchmarks that print figures and ratios measured side by side.

Never timed tests: each benchmark measures the platform and its baseline in the same run
on the same servers, and the ratio is what counts on a shared, noisy machine.
"""

from __future__ import annotations

import argparse
import importlib

BENCH_MODULES = [
    "macrohard.cli.bench.eventlog",
    "macrohard.cli.bench.gateway",
    "macrohard.cli.bench.billing",
    "macrohard.cli.bench.miniwob",
    "macrohard.cli.bench.agent_overhead",
    "macrohard.cli.bench.registry",
]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmarks (figures and ratios, --json FILE)")
    bsub = p.add_subparsers(dest="bench", required=True)
    for name in BENCH_MODULES:
        importlib.import_module(name).register(bsub)

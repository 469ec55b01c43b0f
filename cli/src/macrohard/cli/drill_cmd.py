"""`mh drill [--tasks 100] [--json FILE]`: the chaos drill (its code lives in macrohard.bench)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from macrohard.bench.drill import register as register_drill

    register_drill(sub)

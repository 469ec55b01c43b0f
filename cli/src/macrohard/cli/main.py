"""`mh`: the one command for running, inspecting and benchmarking the platform.

Each command lives in its own module with a `register(subparsers)` function. Command
modules import heavy dependencies (Playwright, tritonclient) inside their handlers, so
`mh --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Explicit, ordered list: `mh --help` shows commands in this order.
COMMAND_MODULES = [
    "macrohard.cli.up",
    "macrohard.cli.demo",
    "macrohard.cli.run",
    "macrohard.cli.contracts_cmd",
    "macrohard.cli.tenancy_cmd",
    "macrohard.cli.bench_cmd",
    "macrohard.cli.drill_cmd",
    "macrohard.cli.streams_cmd",
    "macrohard.cli.deploy_cmd",
    "macrohard.cli.events_cmd",
    "macrohard.cli.trace_cmd",
    "macrohard.cli.state_cmd",
    "macrohard.cli.replay_cmd",
    "macrohard.cli.task_replay_cmd",
    "macrohard.cli.dlq_cmd",
    "macrohard.cli.billing_cmd",
    "macrohard.cli.node_cmd",
    "macrohard.cli.fleet_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mh", description=__doc__.splitlines()[0][5:])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        code = 130
    sys.exit(code or 0)


if __name__ == "__main__":
    main()

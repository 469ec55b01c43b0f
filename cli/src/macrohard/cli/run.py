"""`mh run <service>`: one service alone, in the foreground (what a container runs)."""

from __future__ import annotations

import argparse

from macrohard.devkit.services import SERVICES, run_service


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run one service (reads MH_NATS_URL, MH_DATABASE_URL)")
    p.add_argument("service", choices=sorted(SERVICES))
    p.set_defaults(func=lambda args: run_service(args.service))

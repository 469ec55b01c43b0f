"""`mh deploy nats-config`: render deploy/nats/services.conf from the identity declarations.

The permissions of every NATS user are declared once, in `macrohard.contracts.identities`;
this writes the compose cluster's accounts file from them (passwords as `$MH_NATS_*`
references), or with `--check` says whether the committed file is still what they give.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from macrohard.contracts.nats_config import render_accounts

SERVICES_CONF = Path("deploy/nats/services.conf")
# The car nodes docker-compose.yml runs (stand-ins for real cars, one user each).
COMPOSE_CARS = ("car-1", "car-2")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("deploy", help="deployment files generated from the code")
    dsub = p.add_subparsers(dest="deploy_command", required=True)
    n = dsub.add_parser(
        "nats-config", help="write deploy/nats/services.conf from the identity declarations"
    )
    n.add_argument("--out", type=Path, default=SERVICES_CONF, help="'-' for stdout")
    n.add_argument(
        "--cars", default=",".join(COMPOSE_CARS), help="comma-separated car ids given a user"
    )
    n.add_argument("--check", action="store_true", help="exit 1 if --out is out of date")
    n.set_defaults(func=nats_config)


def nats_config(args: argparse.Namespace) -> int:
    text = render_accounts([c for c in args.cars.split(",") if c])
    if str(args.out) == "-":
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run `mh deploy nats-config`", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0

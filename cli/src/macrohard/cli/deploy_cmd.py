"""`mh deploy nats-config|secrets`: the deployment files that come from the code.

`nats-config`: the permissions of every NATS user are declared once, in
`macrohard.contracts.identities`; this writes the compose cluster's accounts file from them
(passwords as `$MH_NATS_*` references), or with `--check` says whether the committed file is
still what they give.

`secrets`: the files compose hands to the containers that need them as secrets (the
operator's admin token to the gateway, the key that seals task secrets to the gateway and
the actuator), generated once, owner-only; never committed (deploy/secrets/ is ignored).
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

from macrohard.cli.generated import write_generated
from macrohard.contracts.nats_config import render_accounts

SERVICES_CONF = Path("deploy/nats/services.conf")
# The car nodes docker-compose.yml runs (stand-ins for real cars, one user each).
COMPOSE_CARS = ("car-1", "car-2")
SECRETS_DIR = Path("deploy/secrets")


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
    s = dsub.add_parser("secrets", help="create deploy/secrets/ (admin token, secrets key) once")
    s.add_argument("--dir", type=Path, default=SECRETS_DIR)
    s.add_argument(
        "--owner",
        type=int,
        default=None,
        help="uid to own the files (the images run as 10001; default: you)",
    )
    s.set_defaults(func=compose_secrets)


def compose_secrets(args: argparse.Namespace) -> int:
    """Write each secret file unless it exists: rotating one is a deliberate act."""
    from macrohard.gateway.public import new_master_key  # the web stack: not for `mh --help`

    args.dir.mkdir(parents=True, exist_ok=True)
    wanted = {
        "admin-token": lambda: "mh_admin_" + secrets.token_urlsafe(32),
        "secrets-key": new_master_key,
    }
    for name, make in wanted.items():
        path = args.dir / name
        if path.exists():
            print(f"kept {path}")
            continue
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make() + "\n")
        if args.owner is not None:
            os.chown(path, args.owner, -1)
        print(f"wrote {path}")
    return 0


def nats_config(args: argparse.Namespace) -> int:
    text = render_accounts([c for c in args.cars.split(",") if c])
    return write_generated(
        args.out, text.encode(), check=args.check, command="mh deploy nats-config"
    )

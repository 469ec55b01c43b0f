"""How a `mh` command finds the platform it talks to.

Order: explicit flags (--nats, --database, --gateway), then the environment (MH_NATS_URL,
MH_DATABASE_URL, MH_GATEWAY_URL), then what `mh up` recorded in <data-dir>/platform.json.
"""

from __future__ import annotations

import argparse
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import msgspec

DEFAULT_DATA_DIR = Path(".mh")
PLATFORM_FILE = "platform.json"
ADMIN_TOKEN_FILE = "admin-token"


class PlatformRecord(msgspec.Struct, frozen=True):
    """What `mh up` writes so that other commands can find it."""

    nats_url: str
    database_url: str
    gateway_url: str
    pid: int


@dataclass(frozen=True, slots=True)
class PlatformRef:
    nats_url: str
    database_url: str | None
    gateway_url: str | None
    data_dir: Path

    def admin_token(self) -> str:
        return admin_token(self.data_dir, create=False)


class PlatformNotFound(RuntimeError):
    pass


def add_platform_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("platform")
    g.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("MH_DATA_DIR", DEFAULT_DATA_DIR)),
        help="where `mh up` keeps its data and records its URLs (default ./.mh)",
    )
    g.add_argument(
        "--nats",
        dest="nats_url",
        default=os.environ.get("MH_NATS_URL"),
        help="NATS URL of an existing platform (env MH_NATS_URL)",
    )
    g.add_argument(
        "--database",
        dest="database_url",
        default=os.environ.get("MH_DATABASE_URL"),
        help="PostgreSQL DSN of an existing platform (env MH_DATABASE_URL)",
    )
    g.add_argument(
        "--gateway",
        dest="gateway_url",
        default=os.environ.get("MH_GATEWAY_URL"),
        help="gateway base URL (env MH_GATEWAY_URL)",
    )


def read_record(data_dir: Path) -> PlatformRecord | None:
    path = data_dir / PLATFORM_FILE
    if not path.exists():
        return None
    return msgspec.json.decode(path.read_bytes(), type=PlatformRecord)


def write_record(data_dir: Path, record: PlatformRecord) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    # Owner-only: under `mh up --secure` the NATS URL carries the operator's password.
    fd = os.open(data_dir / PLATFORM_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(msgspec.json.encode(record))


def resolve(args: argparse.Namespace) -> PlatformRef:
    record = read_record(args.data_dir)
    nats_url = args.nats_url or (record.nats_url if record else None)
    if not nats_url:
        raise PlatformNotFound(
            f"no platform found: run `mh up` (data dir {args.data_dir}) or pass --nats/--database"
        )
    return PlatformRef(
        nats_url=nats_url,
        database_url=args.database_url or (record.database_url if record else None),
        gateway_url=getattr(args, "gateway_url", None) or (record.gateway_url if record else None),
        data_dir=args.data_dir,
    )


def admin_token(data_dir: Path, *, create: bool) -> str:
    """The operator's admin token: MH_ADMIN_TOKEN, else generated once into the data dir."""
    env = os.environ.get("MH_ADMIN_TOKEN")
    if env:
        return env
    path = data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    if not create:
        raise PlatformNotFound(f"no admin token: set MH_ADMIN_TOKEN or run `mh up` ({path})")
    data_dir.mkdir(parents=True, exist_ok=True)
    token = "mh_admin_" + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token

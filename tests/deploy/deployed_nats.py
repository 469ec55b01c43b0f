"""A nats-server loaded with the shipped permission file (deploy/nats/services.conf) and the
example passwords of deploy/.env.example: what the deploy and security tests attack."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from macrohard.devkit.embedded import free_port, nats_server_binary, wait_for_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def example_env() -> dict[str, str]:
    """The example environment the deploy files read their passwords from."""
    text = (DEPLOY / ".env.example").read_text()
    return dict(re.findall(r"^([A-Z0-9_]+)=(.*)$", text, re.M))


@contextlib.contextmanager
def deployed_nats(workdir: Path) -> Iterator[int]:
    """One nats-server with JetStream and the shipped accounts and users; yields its port."""
    shutil.copy(DEPLOY / "nats" / "services.conf", workdir / "services.conf")
    port = free_port()
    (workdir / "server.conf").write_text(
        f'listen: 127.0.0.1:{port}\njetstream {{ store_dir: "{workdir / "js"}" }}\n'
        "include ./services.conf\n"
    )
    proc = subprocess.Popen(
        [nats_server_binary(), "-c", str(workdir / "server.conf")],
        env={**os.environ, **example_env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 10.0, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)

"""`mh up --secure`: the production topology on one machine, run as an operator runs it.

A 3-node JetStream cluster with the permissions rendered from the identity declarations,
streams at R3, each identity's URL in <data-dir>/identities (owner-only), and the demo
completing with every service and car on its own least-privileged NATS user.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from macrohard.contracts.identities import SERVICES, inbox_prefix
from macrohard.devkit.embedded import free_port, free_ports


def mh(*args: str) -> list[str]:
    return [sys.executable, "-m", "macrohard.cli.main", *args]


def wait_for_line(proc: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no {prefix!r} line from {proc.args}")


@pytest.fixture
def secure_up(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """`mh up --secure --cluster 3` with no services: the NATS side of the topology."""
    data_dir, nats_port = tmp_path / "mh", free_ports(3)
    proc = subprocess.Popen(
        [
            *mh("up", "--secure", "--cluster", "3", "--data-dir", str(data_dir)),
            *("--nats-port", str(nats_port), "--pg-port", str(free_port())),
            *("--nodes", "1", "--services", ""),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_line(proc, "ready:", 120)
        yield data_dir, nats_port
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for port in (nats_port, nats_port + 1, nats_port + 2):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"NATS still on {port}"


async def test_secure_up_runs_a_replicated_cluster_with_one_identity_each(
    secure_up: tuple[Path, int],
) -> None:
    data_dir, nats_port = secure_up
    identities = data_dir / "identities"
    expected = {"admin", "car-1", *(s.name for s in SERVICES)}
    assert {p.stem for p in identities.glob("*.url")} == expected
    for path in identities.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    assert (data_dir / "platform.json").stat().st_mode & 0o077 == 0
    admin = await nats.connect((identities / "admin.url").read_text().strip())
    try:
        js = admin.jetstream()
        for stream in ("EVENTS", "DLQ"):
            info = await js.stream_info(stream)
            assert info.config.num_replicas == 3
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2
    finally:
        await admin.close()
    # The car's URL is a car's rights, on any node of the cluster.
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    car_url = (identities / "car-1.url").read_text().strip()
    car = await nats.connect(
        car_url.replace(f":{nats_port}", f":{nats_port + 2}"),
        inbox_prefix=inbox_prefix("car-1"),
        error_cb=on_error,
        max_reconnect_attempts=0,
    )
    try:
        await car.subscribe(">")
        await car.flush()
        for _ in range(100):
            if any('subscription to ">"' in e for e in errors):
                break
            await asyncio.sleep(0.01)
        assert any('subscription to ">"' in e for e in errors), errors
    finally:
        await car.close()
    # A node killed outright is restarted by `mh up` and serves again.
    pid_file = data_dir / "nats-2.pid"
    killed = int(pid_file.read_text())
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if pid_file.exists() and pid_file.read_text().strip() not in ("", str(killed)):
            break
    assert pid_file.read_text().strip() != str(killed), "nats-2 was not restarted"
    back = await nats.connect(car_url.replace(f":{nats_port}", f":{nats_port + 1}"))
    await back.close()


def test_the_demo_completes_on_the_secure_topology(tmp_path: Path) -> None:
    data_dir = tmp_path / "mh"
    nats_port = free_ports(3)
    run = subprocess.run(
        [
            *mh("demo", "--secure", "--cluster", "3", "--exit", "--data-dir", str(data_dir)),
            *("--http-port", str(free_port()), "--nats-port", str(nats_port)),
            *("--pg-port", str(free_port()), "--metrics-port", str(free_ports(5))),
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "task completed" in run.stdout
    # Every participant did its work within its own rights: the servers refused nothing.
    for log in sorted(data_dir.glob("nats-*.log")):
        assert "Violation" not in log.read_text(), log

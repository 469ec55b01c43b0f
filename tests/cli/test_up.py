"""`mh up` as a user runs it: a real process, real embedded servers, Ctrl-C to stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from macrohard.devkit.embedded import free_port


def test_up_starts_servers_records_platform_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "mh"
    nats_port, pg_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "MH_ADMIN_TOKEN"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "macrohard.cli.main",
            "up",
            "--data-dir",
            str(data_dir),
            "--nats-port",
            str(nats_port),
            "--pg-port",
            str(pg_port),
            "--nodes",
            "0",
            "--services",
            "",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        ready = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("ready:"):
                ready = line
                break
            if not line and proc.poll() is not None:
                break
        assert ready.startswith("ready:"), "mh up never printed its ready line"
        record = msgspec.json.decode((data_dir / "platform.json").read_bytes())
        assert record["nats_url"] == f"nats://127.0.0.1:{nats_port}"
        assert record["database_url"].startswith(f"postgresql://postgres@127.0.0.1:{pg_port}/")
        token = (data_dir / "admin-token").read_text().strip()
        assert token.startswith("mh_admin_") and len(token) > 30
        assert (data_dir / "admin-token").stat().st_mode & 0o077 == 0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (data_dir / "platform.json").exists()
    # The servers are gone: their ports are free again.
    import socket

    for port in (nats_port, pg_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0

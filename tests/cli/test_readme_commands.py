"""The README's first command, exactly as a new user types it, in a fresh clone.

`bash scripts/dev.sh demo` with default flags, the default data dir (`.mh`, relative) and
the default ports: the way it failed for a new user and no test noticed. Runs in CI with the
rest of the suite; budget: about a minute here (set-up is seconds with uv's cache warm, the
demo ~40 s on 2 busy cores), limit 8 minutes for a cold machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PORTS = (8080, 4222, 5432, 9100)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _processes_under(path: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(path) in argv:
                found.append(f"{entry.name}: {argv[:200]}")
    return found


@pytest.mark.readme
@pytest.mark.timeout(480)
def test_readme_demo_command_in_a_fresh_clone(tmp_path: Path) -> None:
    busy = [p for p in DEFAULT_PORTS if _listening(p)]
    if busy:
        # The README's command uses the default ports; it cannot run beside another platform.
        pytest.skip(f"default ports in use on this machine: {busy}")
    clone = tmp_path / "macrohard"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    # A new user's shell: none of this session's platform settings or virtualenv.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MH_", "VIRTUAL_ENV", "PYTEST_")) and k != "PYTHONPATH"
    }
    log = (tmp_path / "demo.log").open("w+b")
    # Its own session so that we can press Ctrl-C the way a terminal does: to the whole group.
    proc = subprocess.Popen(
        ["bash", "scripts/dev.sh", "demo"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    out = b""
    try:
        deadline = time.monotonic() + 420
        while b"The platform keeps running" not in out and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out += line
            log.write(line)
        text = out.decode(errors="replace")
        assert "task completed" in text, text[-4000:]
        assert "The platform keeps running" in text, text[-4000:]
        assert (clone / ".mh" / "admin-token").exists()
        os.killpg(proc.pid, signal.SIGINT)
        out += proc.stdout.read()
        assert proc.wait(90) == 0, out.decode(errors="replace")[-4000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    # Ctrl-C stopped everything: nothing left on the ports or running from the clone.
    deadline = time.monotonic() + 20
    while (_processes_under(clone) or any(map(_listening, DEFAULT_PORTS[:3]))) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert not _processes_under(clone)
    assert not [p for p in DEFAULT_PORTS[:3] if _listening(p)]

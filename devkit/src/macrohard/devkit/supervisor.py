"""Runs services as child processes: restarts the ones that die, prefixes their logs.

Restarts back off exponentially (a crash loop must not eat the machine) and the backoff
resets once a process has stayed up for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field

COLORS = ["36", "35", "33", "32", "34", "31", "96", "95", "93", "92"]


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


class Supervisor:
    def __init__(self, *, color: bool | None = None, healthy_after_s: float = 30.0) -> None:
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._color = sys.stdout.isatty() if color is None else color
        self._healthy_after_s = healthy_after_s
        self.restarts: dict[str, int] = {}

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
            )
            self._procs[spec.name] = proc
            assert proc.stdout is not None
            async for line in proc.stdout:
                sys.stdout.write(prefix + line.decode(errors="replace"))
                sys.stdout.flush()
            code = await proc.wait()
            if self._stopping:
                return
            if time.monotonic() - started > self._healthy_after_s:
                backoff = 0.5
            self.restarts[spec.name] = self.restarts.get(spec.name, 0) + 1
            sys.stdout.write(f"{prefix}exited with {code}; restarting in {backoff:.1f}s\n")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every child, wait, SIGKILL what is left."""
        self._stopping = True
        for proc in self._procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        waits = [p.wait() for p in self._procs.values() if p.returncode is None]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        except TimeoutError:
            for proc in self._procs.values():
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

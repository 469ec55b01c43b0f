"""Children that die with the process that started them.

`mh up` starts its servers and services in their own sessions, so that a Ctrl-C in the
terminal reaches `mh up` alone and it can stop them in order. The price: when `mh up` itself
is killed (SIGKILL, the OOM killer, a SIGINT followed by SIGKILL while it is still stopping)
nothing stops them, and they keep the ports and the data dir. Linux's parent-death signal
closes that gap without a watchdog process: the kernel sends the child a signal of our choice
the moment its parent goes away, however it went.

Two subtleties:
- The signal follows the *thread* that forked the child, not the process: a server started
  from a worker thread would be killed when that thread ends. We only arm it from the main
  thread (where `mh up`, the supervisor's event loop and the test fixtures start children).
- The parent may die between fork and prctl; the child then checks that its parent is still
  the one that forked it and, if not, signals itself.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    prctl: Callable[..., int] = libc.prctl
    return prctl


_PRCTL = _libc_prctl()


def die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive `sig` when this process dies.

    None where it cannot be armed safely (not Linux, or not on the main thread): the caller
    passes it straight to `subprocess.Popen(preexec_fn=...)`.
    """
    if _PRCTL is None or threading.current_thread() is not threading.main_thread():
        return None
    prctl = _PRCTL
    parent = os.getpid()

    def arm() -> None:
        # Runs in the child between fork and exec (after any setuid: a credential change
        # would clear the setting). Only async-signal-safe calls here.
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return arm


async def exited(pid: int) -> None:
    """Return once process `pid` (our child) has exited; it may not be reaped yet.

    A pidfd becomes readable when the process exits: an event to await, no polling, and no
    dependence on the child's output pipes (which a grandchild may hold open).
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    gone = asyncio.Event()
    loop.add_reader(fd, gone.set)
    try:
        await gone.wait()
    finally:
        loop.remove_reader(fd)
        os.close(fd)

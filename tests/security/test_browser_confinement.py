"""Point 5 (the browser's share): a page that exploits the renderer finds a sandboxed
process of an unprivileged user, and neither Chromium nor Playwright's driver holds the
actuator's secrets.

Checked from outside, the way an operator would: the processes under the actuator's
browser pool, their users (`/proc/<pid>/status`), command lines, seccomp mode, namespaces
and environments, while a real page is open."""

from __future__ import annotations

import os
import pwd
import secrets as random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from macrohard.actuator.browser import BrowserPool
from macrohard.actuator.sandbox import BROWSER_USER
from tests.actuator.site import Site

MASTER_KEY = "canary-key-" + random.token_hex(8)
NATS_PASSWORD = "canary-pw-" + random.token_hex(8)


@dataclass(frozen=True)
class Proc:
    pid: int
    exe: str
    uid: int
    cmdline: list[str]
    environ: bytes
    status: dict[str, str]

    @property
    def user_namespace(self) -> str:
        return os.readlink(f"/proc/{self.pid}/ns/user")


def processes_under(root: int) -> list[Proc]:
    """Every live descendant of `root` (the browser's processes, the driver)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid:
                frontier.append(child)
                proc = read_proc(child)
                if proc is not None:
                    found.append(proc)
    return found


def read_proc(pid: int) -> Proc | None:
    base = Path(f"/proc/{pid}")
    try:
        status = dict(line.split(":\t", 1) for line in (base / "status").read_text().splitlines())
        return Proc(
            pid=pid,
            exe=os.readlink(base / "exe"),
            uid=int(status["Uid"].split()[1]),  # effective
            # Chromium's children rewrite their argv as one string: split on whitespace too.
            cmdline=(base / "cmdline").read_bytes().decode().replace("\0", " ").split(),
            environ=(base / "environ").read_bytes(),
            status={k: v.strip() for k, v in status.items()},
        )
    except (OSError, KeyError):
        return None  # gone meanwhile


@pytest.fixture
async def browsing(
    monkeypatch: pytest.MonkeyPatch, site: Site
) -> AsyncIterator[tuple[BrowserPool, list[Proc]]]:
    """The actuator's browser pool, started with secrets in the actuator's environment,
    showing a real page; yields the pool and the processes under this one."""
    monkeypatch.setenv("MH_SECRETS_KEY", MASTER_KEY)
    monkeypatch.setenv("MH_NATS_URL", f"nats://actuator:{NATS_PASSWORD}@127.0.0.1:4222")
    pool = BrowserPool(local_test_mode=True)
    try:
        tb = await pool.open("t-confined", "acme", [])
        await tb.page.goto(site.url("/form"))
        yield pool, processes_under(os.getpid())
    finally:
        await pool.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to the browser user needs root")
async def test_chromium_and_its_driver_run_as_the_browser_user(
    browsing: tuple[BrowserPool, list[Proc]],
) -> None:
    _, procs = browsing
    browser_uid = pwd.getpwnam(BROWSER_USER).pw_uid
    driver = [p for p in procs if Path(p.exe).name == "node"]
    chromium = [p for p in procs if "chrom" in p.exe]
    assert driver and chromium
    assert {p.uid for p in driver + chromium} == {browser_uid}, [
        (p.pid, p.uid, p.cmdline[:2]) for p in driver + chromium
    ]
    # Its profile lives in the browser user's own scratch directory.
    profiles = {a.split("=", 1)[1] for p in chromium for a in p.cmdline if "--user-data-dir=" in a}
    [profile] = profiles
    assert Path(profile).stat().st_uid == browser_uid


async def test_the_renderer_runs_in_chromiums_sandbox(
    browsing: tuple[BrowserPool, list[Proc]],
) -> None:
    pool, procs = browsing
    chromium = [p for p in procs if "chrom" in p.exe]
    assert [p.pid for p in chromium if "--no-sandbox" in p.cmdline] == []
    renderers = [p for p in chromium if "--type=renderer" in p.cmdline]
    assert renderers
    ours = os.readlink("/proc/self/ns/user")
    for renderer in renderers:
        # Seccomp-BPF filter on (2), in its own user namespace, no way to gain privileges.
        assert renderer.status["Seccomp"] == "2", renderer.status
        assert renderer.user_namespace != ours
        assert renderer.status["NoNewPrivs"] == "1"
    # And the actuator says so (a machine without user namespaces would show 0).
    assert pool.confinement is not None and pool.confinement.sandbox, pool.confinement
    sandboxed = REGISTRY.get_sample_value("mh_browser_sandboxed", {"user": pool.confinement.user})
    assert sandboxed == 1.0


async def test_neither_chromium_nor_the_driver_holds_the_actuators_secrets(
    browsing: tuple[BrowserPool, list[Proc]],
) -> None:
    _, procs = browsing
    driver = [p for p in procs if Path(p.exe).name == "node"]
    chromium = [p for p in procs if "chrom" in p.exe]
    assert driver and chromium
    leaking = [
        (p.pid, p.exe)
        for p in driver + chromium
        if MASTER_KEY.encode() in p.environ
        or NATS_PASSWORD.encode() in p.environ
        or b"MH_" in p.environ
    ]
    assert leaking == []

"""Where the browser runs: as an unprivileged system user, with Chromium's sandbox on.

A page that exploits the renderer lands in the renderer's process. With Chromium's
namespace sandbox on, that process has no file system, no network and a seccomp filter;
with the browser running as `mh-browser` instead of the actuator's user (root on a single
machine), even an escape from the sandbox finds a user that owns nothing but the browser's
own scratch directory. Neither the browser nor Playwright's driver (Node, which starts it)
inherits the actuator's environment: the master key, NATS and database credentials stay in
the actuator's process.

How: Playwright starts its driver from `PLAYWRIGHT_NODEJS_PATH` when that is set. We point
it at a tiny launcher script that drops to the browser user (`setpriv`, when we are root)
and replaces the environment with an allowlist (`env -i`) before it runs Playwright's own
Node. The driver then launches Chromium as that user, with its profile and artifacts in the
user's scratch directory (the driver's TMPDIR).

Chromium's sandbox needs unprivileged user namespaces (there is no setuid helper in
Debian's package). `prepare` checks, as the browser user, that the kernel allows them; only
when it does not is the browser started with `--no-sandbox`, and that is said in a log line
and in the `mh_browser_sandboxed` metric.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import playwright
from prometheus_client import Gauge

BROWSER_USER = "mh-browser"
# The launcher's variable: read by Playwright when it starts its driver.
DRIVER_VARIABLE = "PLAYWRIGHT_NODEJS_PATH"
# What the driver and Chromium may keep of the actuator's environment: nothing secret.
# (HOME and TMPDIR are the browser's own scratch directory, never the actuator's.)
ALLOWED_ENV = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "TZ", "FONTCONFIG_PATH")
# Set by Playwright for its driver (client language and version in its messages).
DRIVER_ENV = ("PW_LANG_NAME", "PW_LANG_NAME_VERSION", "PW_CLI_DISPLAY_VERSION")
PROBE_TIMEOUT_S = 10.0

SANDBOXED = Gauge(
    "mh_browser_sandboxed",
    "1 when the actuator's Chromium runs with its own sandbox on, 0 when with --no-sandbox.",
    ["user"],
)

log = logging.getLogger("macrohard.actuator.sandbox")


class ConfinementError(RuntimeError):
    """The browser cannot be started as the browser user (a deployment problem)."""


@dataclass(frozen=True)
class Confinement:
    """How this process's browser runs (see the module docstring)."""

    user: str  # the system user the driver and Chromium run as
    sandbox: bool  # Chromium's own sandbox on
    reason: str  # why the sandbox is off ("" when on)
    home: Path  # the browser's HOME and TMPDIR, owned by `user`
    launcher: Path  # the driver launcher Playwright is pointed at
    workdir: Path  # holds `launcher` and `home`; removed by `release`

    def environment(self) -> dict[str, str | float | bool]:
        """Chromium's environment: the allowlist, with the browser's own HOME and TMPDIR."""
        # The value type is Playwright's (its `env` dict is invariant); ours are all strings.
        env: dict[str, str | float | bool] = {
            key: os.environ[key] for key in ALLOWED_ENV if key in os.environ
        }
        env["HOME"] = env["TMPDIR"] = str(self.home)
        return env

    @contextlib.contextmanager
    def driver(self) -> Iterator[None]:
        """Within: Playwright starts its driver through the launcher (restored after)."""
        before = os.environ.get(DRIVER_VARIABLE)
        os.environ[DRIVER_VARIABLE] = str(self.launcher)
        try:
            yield
        finally:
            if before is None:
                del os.environ[DRIVER_VARIABLE]
            else:
                os.environ[DRIVER_VARIABLE] = before

    def release(self) -> None:
        """Remove the scratch directory (profiles the driver left, the launcher)."""
        shutil.rmtree(self.workdir, ignore_errors=True)


def prepare() -> Confinement:
    """Set up the browser user, its scratch directory and the driver launcher; probe the sandbox.

    Blocking (it may create a system user and runs two short probes): call it off the
    event loop. Raises `ConfinementError` when the driver cannot run as the browser user.
    """
    root = os.geteuid() == 0
    ids = _browser_user() if root else None
    user = BROWSER_USER if ids else pwd.getpwuid(os.geteuid()).pw_name
    node, cli = driver_files()
    if ids:
        _open_path_to(Path(cli).parent, Path(node))
    # Traversable by the browser user (0711), readable by nobody else: the launcher names
    # the user's ids and the allowlisted environment, nothing secret, yet nobody needs it.
    workdir = Path(tempfile.mkdtemp(prefix="mh-browser-"))
    workdir.chmod(0o711)
    home = workdir / "home"
    home.mkdir(mode=0o700)
    if ids:
        os.chown(home, *ids)
    launcher = workdir / "driver"
    launcher.write_text(_launcher_script(node, home, ids))
    launcher.chmod(0o700)
    confinement = Confinement(user, True, "", home, launcher, workdir)
    try:
        _probe_driver(confinement, cli)
    except ConfinementError:
        confinement.release()
        raise
    reason = _namespace_sandbox_refusal(ids)
    if reason:
        confinement = Confinement(user, False, reason, home, launcher, workdir)
        log.warning(
            "Chromium runs WITHOUT its sandbox (--no-sandbox): %s", reason, extra={"user": user}
        )
    else:
        log.info("Chromium runs as %s with its sandbox on", user)
    SANDBOXED.labels(user=user).set(1 if confinement.sandbox else 0)
    return confinement


def driver_files() -> tuple[str, str]:
    """Playwright's bundled Node and its driver entry point (what it runs by default)."""
    driver = Path(playwright.__file__).parent / "driver"
    return str(driver / "node"), str(driver / "package" / "cli.js")


def _browser_user() -> tuple[int, int]:
    """The browser's system user (created when missing, as PostgreSQL's is): (uid, gid)."""
    try:
        entry = pwd.getpwnam(BROWSER_USER)
    except KeyError:
        added = subprocess.run(
            ["useradd", "--system", "--user-group", "--shell", "/usr/sbin/nologin", BROWSER_USER],
            capture_output=True,
            text=True,
        )
        try:
            # Another actuator on this machine may have created it a moment ago.
            entry = pwd.getpwnam(BROWSER_USER)
        except KeyError:
            raise ConfinementError(
                f"could not create the system user {BROWSER_USER}: {added.stderr.strip()}"
            ) from None
    return entry.pw_uid, entry.pw_gid


def _open_path_to(*paths: Path) -> None:
    """Let other users traverse every parent of `paths` (o+x), so the browser user runs
    Playwright's driver from our virtual environment (a clone under /root, say)."""
    for path in paths:
        for parent in path.parents:
            mode = parent.stat().st_mode
            if mode & 0o001 == 0:
                parent.chmod(mode | 0o001)


def _launcher_script(node: str, home: Path, ids: tuple[int, int] | None) -> str:
    """The driver launcher: drop to the browser user (when root), allowlisted environment."""
    keep = [f"{k}={shlex.quote(os.environ[k])}" for k in ALLOWED_ENV if k in os.environ]
    keep += [f'{k}="${k}"' for k in DRIVER_ENV]
    keep += [f"HOME={shlex.quote(str(home))}", f"TMPDIR={shlex.quote(str(home))}"]
    drop = ""
    if ids:
        # No groups, no capabilities, no way back up (no_new_privs), before anything runs.
        drop = (
            f"setpriv --reuid={ids[0]} --regid={ids[1]} --clear-groups "
            "--inh-caps=-all --bounding-set=-all --no-new-privs "
        )
    return (
        "#!/bin/sh\n"
        "# Written by macrohard.actuator.sandbox: Playwright's driver as the browser user.\n"
        f"cd {shlex.quote(str(home))} || exit 1\n"
        f'exec {drop}env -i {" ".join(keep)} {shlex.quote(node)} "$@"\n'
    )


def _probe_driver(confinement: Confinement, cli: str) -> None:
    """Run the launcher once: the user reaches Node and the driver, and may write its home."""
    check = (
        "const fs = require('fs'), os = require('os');"
        f"fs.accessSync({cli!r}, fs.constants.R_OK);"
        "fs.rmdirSync(fs.mkdtempSync(os.tmpdir() + '/probe-'));"
    )
    try:
        probe = subprocess.run(
            [str(confinement.launcher), "-e", check],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfinementError(f"the browser launcher did not run: {exc}") from exc
    if probe.returncode != 0:
        raise ConfinementError(
            f"Playwright's driver cannot run as {confinement.user}: {probe.stderr.strip()[-500:]}"
        )


def _namespace_sandbox_refusal(ids: tuple[int, int] | None) -> str:
    """Why Chromium's namespace sandbox cannot work here ("" when it can).

    Chromium's zygote puts each renderer into new user, PID and network namespaces; as root
    it refuses to start sandboxed at all. So: can the browser user create those three?
    """
    if os.geteuid() == 0 and ids is None:
        return "the browser would run as root"
    user_ids: dict[str, object] = {}
    if ids:
        user_ids = {"user": ids[0], "group": ids[1], "extra_groups": []}
    try:
        probe = subprocess.run(  # type: ignore[call-overload]
            ["unshare", "--user", "--pid", "--net", "--fork", "true"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            **user_ids,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not check for user namespaces: {exc}"
    if probe.returncode != 0:
        return f"the kernel refuses unprivileged user namespaces: {probe.stderr.strip()}"
    return ""

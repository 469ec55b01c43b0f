"""The whole platform as a user runs it (`mh up --local-test-mode`, one real car with Triton),
a local web app for its agents, and real Chromium driving the console.

The platform starts once per module (about 40 s on two cores): every console test reads
what the same platform did, the way a person would move between pages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from macrohard.actuator.public import CHROMIUM_ARGS, chromium_path
from macrohard.cli.demo import serve_site
from macrohard.devkit.embedded import free_port
from macrohard.devkit.pages import LocalSite, PageReply, PageRequest

ARTIFACTS = Path(os.environ.get("MH_TEST_ARTIFACTS", "out")) / "console"


@dataclass(frozen=True)
class Platform:
    url: str
    nats_url: str
    admin_token: str
    data_dir: Path
    site: str


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("console-mh")
    http, nats_port, pg, metrics = free_port(), free_port(), free_port(), free_port()
    log = (data_dir / "platform.log").open("w")
    env = {k: v for k, v in os.environ.items() if k not in ("MH_ADMIN_TOKEN", "MH_SECRETS_KEY")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "macrohard.cli.main", "up", "--local-test-mode",
         "--data-dir", str(data_dir), "--http-port", str(http), "--nats-port", str(nats_port),
         "--pg-port", str(pg), "--metrics-port", str(metrics)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while "ready:" not in (data_dir / "platform.log").read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "mh up did not get ready:\n" + (data_dir / "platform.log").read_text()[-4000:]
                )
            time.sleep(0.5)
        token = (data_dir / "admin-token").read_text().strip()
        with serve_site() as site:
            yield Platform(f"http://127.0.0.1:{http}", f"nats://127.0.0.1:{nats_port}", token,
                           data_dir, site)  # fmt: skip
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


def onboard(platform: Platform, name: str) -> dict[str, str]:
    """A tenant (with its first API key) through the API, as an operator would."""
    reply = httpx.post(
        f"{platform.url}/v1/tenants",
        headers={"Authorization": f"Bearer {platform.admin_token}"},
        json={"name": name, "plan": "team", "allowed_domains": ["127.0.0.1"],
              "monthly_budget": "100.00"},
        timeout=30,
    )  # fmt: skip
    reply.raise_for_status()
    body: dict[str, str] = reply.json()
    return body


@pytest.fixture(scope="module")
def webhook_receiver() -> Iterator[str]:
    """A tenant's webhook endpoint that refuses the first delivery and takes the next."""
    answers: list[int] = []

    def receive(request: PageRequest) -> PageReply | None:
        if request.method != "POST":
            return None
        answers.append(503 if not answers else 204)
        return PageReply(status=answers[-1])

    with LocalSite(receive) as site:
        yield site.url("/hook")


def artifact(name: str) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return str(ARTIFACTS / name)

"""Allowlist and SSRF blocks hold for navigations, sub-resources and redirects (real Chromium)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from nats.aio.client import Client as NATS

from macrohard.actuator.browser import BrowserPool
from macrohard.contracts.agent import Intent
from tests.actuator.conftest import Running, actuator_running
from tests.actuator.site import Site


@pytest.fixture(scope="module")
async def strict_pool() -> AsyncIterator[BrowserPool]:
    """Production rules: local test mode off, so even our own loopback site is refused."""
    pool = BrowserPool(local_test_mode=False)
    await pool.start()
    yield pool
    await pool.stop()


def secret_hits(site: Site) -> list[str]:
    return [h for h in site.hits if h.startswith("/secret")]


async def navigate(running: Running, task: str, step: int, url: str) -> tuple[bool, str, str]:
    done, obs = await running.step(task, step, Intent(action="navigate", url=url))
    assert done is not None
    return done.ok, done.error, obs.observation.url


async def test_navigation_outside_the_allowlist_or_to_internal_addresses_is_refused(
    running: Running, site: Site
) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-nav", site.url("/form"))
    assert (await navigate(running, "t-nav", 1, site.url("/form")))[0]

    ok, error, _ = await navigate(running, "t-nav", 2, site.url("/secret", host="localhost"))
    assert not ok and "not in the tenant's allowed domains" in error
    for step, url in enumerate(
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.7/admin",
            "http://[::ffff:192.168.1.1]/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "file:///etc/passwd",
        ],
        start=3,
    ):
        ok, error, now = await navigate(running, "t-nav", step, url)
        assert not ok and error.startswith("blocked:"), (url, error)
        assert now == site.url("/form")  # still on the page it was on

    # A redirect from an allowed page to a host outside the allowlist is refused too.
    hop = site.url("/redirect?to=" + quote(site.url("/secret", host="localhost"), safe=""))
    ok, error, _ = await navigate(running, "t-nav", 8, hop)
    assert not ok and "blocked" in error
    meta = site.url("/redirect?to=" + quote("http://169.254.169.254/latest/", safe=""))
    ok, error, _ = await navigate(running, "t-nav", 9, meta)
    assert not ok and "metadata" in error
    # A chain: allowed -> allowed -> outside. Every hop goes through the egress proxy.
    inner = site.url("/redirect?to=" + quote(site.url("/secret?chain", host="localhost"), safe=""))
    chain = site.url("/redirect?to=" + quote(inner, safe=""))
    ok, error, _ = await navigate(running, "t-nav", 10, chain)
    assert not ok and "not in the tenant's allowed domains" in error, error
    assert sum(h.startswith("/redirect") for h in site.hits) >= 4
    assert secret_hits(site) == []
    refused = running.actuator.pool.get("t-nav")
    assert refused is not None
    assert any("169.254.169.254" in url for url, _ in refused.guard.refused)


async def test_sub_resources_and_their_redirects_are_refused(running: Running, site: Site) -> None:
    await running.onboard(["127.0.0.1"])
    await running.submit("t-sub", site.url("/form"))
    secret = site.url("/secret", host="localhost")
    html = (
        "<title>Probe</title><p>probe</p>"
        f'<img src="{secret}?img">'
        f'<img src="/redirect?to={quote(secret + "?redirected", safe="")}">'
        '<img src="http://10.1.2.3/pixel.png">'
        f"<script>fetch('{secret}?fetch').catch(() => 0)</script>"
        "<iframe src='file:///etc/hostname'></iframe>"
    )
    ok, _, _ = await navigate(running, "t-sub", 1, site.url("/probe?html=" + quote(html, safe="")))
    assert ok
    await running.step("t-sub", 2, Intent(action="wait_for", text="probe"))
    assert secret_hits(site) == []
    tb = running.actuator.pool.get("t-sub")
    assert tb is not None
    refused = {url for url, _ in tb.guard.refused}
    assert {f"{secret}?img", f"{secret}?redirected", f"{secret}?fetch"} <= refused
    assert "http://10.1.2.3/pixel.png" in refused
    assert any(site.url("/redirect") in h or h.startswith("/redirect") for h in site.hits)


async def test_without_local_test_mode_loopback_is_refused_even_when_allowlisted(
    nats_url: str, nc: NATS, strict_pool: BrowserPool, site: Site, tmp_path: Path
) -> None:
    async with actuator_running(nats_url, nc, strict_pool, tmp_path) as strict:
        await strict.onboard(["127.0.0.1", "localhost"])
        await strict.submit("t-strict", "about:blank")
        before = len(site.hits)
        ok, error, _ = await navigate(strict, "t-strict", 1, site.url("/form"))
        assert not ok and "loopback address 127.0.0.1" in error
        # A name is resolved first: what it points at decides (here, loopback).
        ok, error, _ = await navigate(strict, "t-strict", 2, site.url("/form", host="localhost"))
        assert not ok and "localhost resolves to loopback" in error
        assert len(site.hits) == before

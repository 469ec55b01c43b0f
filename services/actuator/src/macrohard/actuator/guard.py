"""The network guard: every request a task's browser makes passes here first (SSRF, allowlist).

Playwright routing sees the first request of each navigation and sub-resource, but a
redirect's next hop is followed inside the browser without asking the route again. So the
guard fetches each request itself with redirects off, checks a redirect's Location the same
way before handing the 3xx to the browser, and refuses the redirect when the target is not
allowed. Host names are resolved here and every address must be public.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from playwright.async_api import Route, WebSocketRoute

from macrohard.actuator.domain import UrlVerdict, check_resolved, check_url, redirect_target

log = logging.getLogger("macrohard.actuator.guard")

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DNS_TTL_S = 30.0


class Resolver:
    """getaddrinfo with a short cache (a page loads many resources from one host)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, list[str]]] = {}

    async def resolve(self, host: str) -> list[str]:
        hit = self._cache.get(host)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except socket.gaierror:
            addresses: list[str] = []
        else:
            addresses = sorted({str(info[4][0]) for info in infos})
        self._cache[host] = (time.monotonic() + DNS_TTL_S, addresses)
        return addresses


class RequestGuard:
    """Checks one task's requests against its tenant's allowlist and the SSRF rules."""

    def __init__(
        self,
        allowed_domains: Callable[[], Sequence[str]],
        *,
        local_test_mode: bool,
        resolver: Resolver,
        on_refused: Callable[[str, str], None] | None = None,
    ) -> None:
        self._allowed = allowed_domains
        self._local = local_test_mode
        self._resolver = resolver
        self._on_refused = on_refused
        self.refused: list[tuple[str, str]] = []

    async def verdict(self, url: str) -> UrlVerdict:
        first = check_url(url, self._allowed(), local_test_mode=self._local)
        if not first.allowed:
            return first
        parts = urlsplit(url)
        if parts.scheme.lower() not in {"http", "https", "ws", "wss"}:
            return first
        host = (parts.hostname or "").strip("[]")
        addresses = await self._resolver.resolve(host)
        return check_resolved(host, addresses, local_test_mode=self._local)

    def _refuse(self, url: str, verdict: UrlVerdict) -> None:
        self.refused.append((url, verdict.reason))
        log.warning("request refused", extra={"url": url[:200], "reason": verdict.reason})
        if self._on_refused is not None:
            self._on_refused(url, verdict.reason)

    async def route(self, route: Route) -> None:
        url = route.request.url
        verdict = await self.verdict(url)
        if not verdict.allowed:
            self._refuse(url, verdict)
            await route.abort("blockedbyclient")
            return
        if urlsplit(url).scheme.lower() not in {"http", "https"}:
            await route.continue_()
            return
        try:
            response = await route.fetch(max_redirects=0)
        except Exception as exc:  # connection refused, reset: what the browser would see
            log.info("request failed", extra={"url": url[:200], "error": str(exc)[:200]})
            await route.abort("failed")
            return
        location = response.headers.get("location")
        if response.status in REDIRECT_STATUSES and location:
            target = redirect_target(url, location)
            hop = await self.verdict(target)
            if not hop.allowed:
                self._refuse(target, hop)
                await route.abort("blockedbyclient")
                return
        await route.fulfill(response=response)

    async def route_web_socket(self, ws: WebSocketRoute) -> None:
        verdict = await self.verdict(ws.url)
        if not verdict.allowed:
            self._refuse(ws.url, verdict)
            await ws.close(code=1008, reason="refused by policy")
            return
        ws.connect_to_server()

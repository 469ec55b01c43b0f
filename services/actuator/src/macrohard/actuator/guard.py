"""The route guard: every request a task's page makes is checked here first (allowlist, SSRF).

It refuses early and precisely (the action reports why). It is not the only layer: a
redirect's next hop is followed inside the browser without asking the route again, and the
browser resolves a name itself after we checked it, so every connection also passes the
context's egress proxy (proxy.py), which checks each hop and dials the address it checked.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from playwright.async_api import Route, WebSocketRoute

from macrohard.actuator.domain import UrlVerdict, check_resolved, check_url

log = logging.getLogger("macrohard.actuator.guard")

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
    ) -> None:
        self._allowed = allowed_domains
        self._local = local_test_mode
        self._resolver = resolver
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

    def record_refusal(self, url: str, reason: str) -> None:
        """Remember a refusal (also the egress proxy's), for the action's report and tests."""
        self.refused.append((url, reason))
        log.warning("request refused", extra={"url": url[:200], "reason": reason})

    def _refuse(self, url: str, verdict: UrlVerdict) -> None:
        self.record_refusal(url, verdict.reason)

    async def route(self, route: Route) -> None:
        url = route.request.url
        verdict = await self.verdict(url)
        if not verdict.allowed:
            self._refuse(url, verdict)
            await route.abort("blockedbyclient")
            return
        # Allowed: the browser sends it through the context's egress proxy, which checks
        # the connection again (every redirect hop, and the address actually dialled).
        await route.continue_()

    async def route_web_socket(self, ws: WebSocketRoute) -> None:
        verdict = await self.verdict(ws.url)
        if not verdict.allowed:
            self._refuse(ws.url, verdict)
            await ws.close(code=1008, reason="refused by policy")
            return
        ws.connect_to_server()

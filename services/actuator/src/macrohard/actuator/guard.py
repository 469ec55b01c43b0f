"""The route guard: every request a task's page makes is checked here first (allowlist, SSRF).

It refuses early and precisely (the action reports why). It is not the only layer: a
redirect's next hop is followed inside the browser without asking the route again, and the
browser resolves a name itself after we checked it, so every connection also passes the
context's egress proxy (proxy.py), which checks each hop and dials the address it checked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from playwright.async_api import Request, Route, WebSocketRoute

from macrohard.actuator.domain import (
    UrlVerdict,
    can_carry_effect,
    check_resolved,
    check_url,
    scrub,
)
from macrohard.eventlog.egress import NETWORK_SCHEMES, Resolver, parse_url

__all__ = ["RequestGuard", "Resolver"]

log = logging.getLogger("macrohard.actuator.guard")


class RequestGuard:
    """Checks one task's requests against its tenant's allowlist and the SSRF rules."""

    def __init__(
        self,
        allowed_domains: Callable[[], Sequence[str] | None],
        *,
        local_test_mode: bool,
        resolver: Resolver,
        secrets: Callable[[], Sequence[str]] = list,
        before_effect: Callable[[Request], Awaitable[bool]] | None = None,
    ) -> None:
        self._allowed = allowed_domains
        self._secrets = secrets
        self._local = local_test_mode
        self._resolver = resolver
        # The write-ahead hold (write_ahead.py): True once the request may leave.
        self._before_effect = before_effect
        self.refused: list[tuple[str, str]] = []

    async def verdict(self, url: str) -> UrlVerdict:
        first = check_url(url, self._allowed(), local_test_mode=self._local)
        if not first.allowed:
            return first
        target = parse_url(url)  # parsed fine in check_url already
        if target.scheme not in NETWORK_SCHEMES:
            return first
        host = target.host
        addresses = await self._resolver.resolve(host)
        return check_resolved(host, addresses, local_test_mode=self._local)

    def record_refusal(self, url: str, reason: str) -> None:
        """Remember a refusal (also the egress proxy's), for the action's report and tests."""
        # A secret typed into a GET form can ride in a URL: never log it.
        url = scrub(url, self._secrets())
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
        request = route.request
        if (
            self._before_effect is not None
            and can_carry_effect(request.method)
            and not await self._before_effect(request)
        ):
            # Its write-ahead record could not be written: not recorded, not sent.
            await route.abort("failed")
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

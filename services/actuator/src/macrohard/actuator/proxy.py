"""The egress proxy: each task's browser context reaches the network only through its own.

Request routing (guard.py) sees a navigation's or sub-resource's first request, but not the
hops of a redirect chain, and it checks a name's addresses before the browser resolves the
name again itself (DNS rebinding). The proxy closes both gaps: every connection the context
opens, every hop of every redirect included, arrives here as `CONNECT host:port` (https, wss)
or an absolute-form request (http, ws); the host is checked against the allowlist, resolved
once, every address checked, and the connection goes to exactly the address that was checked.
Chromium is told to send loopback through the proxy too (`<-loopback>`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from macrohard.actuator.domain import UrlVerdict, check_url
from macrohard.eventlog import egress
from macrohard.eventlog.egress import Resolver

log = logging.getLogger("macrohard.actuator.proxy")

REFUSED_HEADER = "X-Macrohard-Refused"
HOP_BY_HOP = frozenset({"proxy-connection", "proxy-authorization", "connection", "keep-alive"})
HEAD_LIMIT = 64 * 1024


def _split_host_port(authority: str, default: int) -> tuple[str, int]:
    host, sep, port = authority.rpartition(":")
    if not sep or "]" in port:  # no port, or the colon was inside an IPv6 literal
        return authority.strip("[]"), default
    return host.strip("[]"), int(port)


class EgressProxy:
    """A small HTTP forward proxy on 127.0.0.1 for one context, closed with it."""

    def __init__(
        self,
        allowed_domains: Callable[[], Sequence[str] | None],
        *,
        local_test_mode: bool,
        resolver: Resolver,
        on_refused: Callable[[str, str], None],
    ) -> None:
        self._allowed = allowed_domains
        self._local = local_test_mode
        self._resolver = resolver
        self._on_refused = on_refused
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)

    async def _decide(self, url: str) -> tuple[UrlVerdict, str]:
        verdict = check_url(url, self._allowed(), local_test_mode=self._local)
        if not verdict.allowed:
            return verdict, ""
        try:
            # Connect to an address we checked, never to a name resolved again later.
            address = await egress.pinned_address(
                egress.parse_url(url), self._resolver, allow_loopback=self._local
            )
        except egress.EgressRefused as exc:
            return UrlVerdict.refuse(exc.reason), ""
        return verdict, address

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
            task.add_done_callback(self._conns.discard)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except Exception:
            log.exception("proxy connection failed")
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > HEAD_LIMIT:
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ", 2)
        if method.upper() == "CONNECT":
            _, port = _split_host_port(target, 443)
            url = f"https://{target}/"
        else:
            parts = urlsplit(target)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            url = target
        verdict, address = await self._decide(url)
        if not verdict.allowed:
            self._on_refused(url, verdict.reason)
            body = f"refused by the egress policy: {verdict.reason}".encode()
            writer.write(
                b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                + f"{REFUSED_HEADER}: {verdict.reason}\r\n".encode("latin-1", "replace")
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(address, port)
        except OSError as exc:
            writer.write(
                f"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n"
                f"X-Macrohard-Upstream: {type(exc).__name__}\r\n\r\n".encode()
            )
            await writer.drain()
            return
        try:
            if method.upper() == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            else:
                parts = urlsplit(target)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                kept = [
                    h for h in header_lines if h and h.split(":", 1)[0].lower() not in HOP_BY_HOP
                ]
                # One request per connection: the next request is checked afresh.
                new_head = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"])
                up_writer.write(new_head.encode("latin-1") + b"\r\n\r\n")
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            with contextlib.suppress(Exception):
                up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()

"""Local web pages on a free loopback port: the one page server of the platform's tools.

The demo's web app, the benchmarks' pages, the MiniWoB task pages and every test peer (a
scripted chat model, the actuator's hostile site) are the same thing: a threaded HTTP server
on 127.0.0.1 whose answers come from one function. A `Route` turns a `PageRequest` into a
`PageReply`, or into None to fall through to the files of `directory` (404 without one).

Every request path is kept in `hits`, so a test can prove a refused request never arrived.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True, slots=True)
class PageRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class PageReply:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/html; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


Route = Callable[[PageRequest], PageReply | None]


def fixed_pages(pages: Mapping[str, bytes | str]) -> Route:
    """A route serving a fixed page per path (GET only); other paths fall through."""

    def route(request: PageRequest) -> PageReply | None:
        body = pages.get(request.path)
        if request.method != "GET" or body is None:
            return None
        return PageReply(body=body)

    return route


class LocalSite:
    """A threaded HTTP server on 127.0.0.1 and a free port, answering through `route`."""

    def __init__(self, route: Route | None = None, *, directory: str | Path | None = None) -> None:
        self.route = route
        self.directory = str(directory) if directory is not None else None
        self.hits: list[str] = []
        handler = functools.partial(_Handler, self, directory=self.directory or "/nonexistent")
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def start(self) -> LocalSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalSite:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, site: LocalSite, *args: Any, **kwargs: Any) -> None:
        self.site = site
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_HEAD(self) -> None:
        self._answer("HEAD")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        self.site.hits.append(self.path)
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0") or 0)
        request = PageRequest(
            method=method,
            path=url.path,
            query=parse_qs(url.query),
            headers=dict(self.headers.items()),
            body=self.rfile.read(length) if length else b"",
        )
        reply = self.site.route(request) if self.site.route else None
        if reply is None:
            if self.site.directory is not None and method in ("GET", "HEAD"):
                # Static files, with the standard library's own paths and content types.
                if method == "GET":
                    super().do_GET()
                else:
                    super().do_HEAD()
            else:
                self.send_error(404)
            return
        data = reply.body.encode() if isinstance(reply.body, str) else reply.body
        self.send_response(reply.status)
        if data or reply.status not in (204, 304):
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return

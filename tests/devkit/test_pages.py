"""The one local page server: routes, files, 404s and the record of what was asked."""

from __future__ import annotations

from pathlib import Path

import httpx

from macrohard.devkit.pages import LocalSite, PageReply, PageRequest, fixed_pages


def test_fixed_pages_and_a_404_for_the_rest() -> None:
    with LocalSite(fixed_pages({"/": "<title>Home</title>"})) as site:
        home = httpx.get(site.url("/"))
        missing = httpx.get(site.url("/nowhere?x=1"))
    assert (home.status_code, home.text) == (200, "<title>Home</title>")
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert missing.status_code == 404
    assert site.hits == ["/", "/nowhere?x=1"]


def test_a_route_sees_method_query_headers_and_body() -> None:
    seen: list[PageRequest] = []

    def route(request: PageRequest) -> PageReply:
        seen.append(request)
        return PageReply(201, '{"ok": true}', "application/json", {"X-Peer": "test"})

    with LocalSite(route) as site:
        r = httpx.post(site.url("/v1/chat?a=1&a=2"), content=b"hello", headers={"X-Me": "me"})
    assert (r.status_code, r.json(), r.headers["x-peer"]) == (201, {"ok": True}, "test")
    (req,) = seen
    assert (req.method, req.path, req.query, req.body) == (
        "POST",
        "/v1/chat",
        {"a": ["1", "2"]},
        b"hello",
    )
    assert req.headers["X-Me"] == "me"


def test_files_of_a_directory_behind_the_route(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text("console.log(1)")
    (tmp_path / "index.html").write_text("<p>static</p>")

    def route(request: PageRequest) -> PageReply | None:
        return PageReply(body="dynamic") if request.path == "/index.html" else None

    with LocalSite(route, directory=tmp_path) as site:
        routed = httpx.get(site.url("/index.html")).text
        static = httpx.get(site.url("/app.js"))
    assert routed == "dynamic"  # the route wins over the file of the same name
    assert static.text == "console.log(1)" and "javascript" in static.headers["content-type"]

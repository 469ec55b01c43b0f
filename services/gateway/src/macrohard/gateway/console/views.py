"""Jinja filters (how times, durations and money read) and the console's error page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Response
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template

from macrohard.gateway.console.web import AnyRequest, is_htmx, page, session_of

_TITLES = {400: "Bad request", 403: "Refused", 404: "Not found", 409: "Conflict",
           422: "Check the form", 429: "Slow down", 503: "Try again shortly"}  # fmt: skip


def when(value: datetime | None) -> str:
    """UTC wall time, to the second: what an operator compares with logs."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration_ms(value: float) -> str:
    return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


def short(value: str, keep: int = 8) -> str:
    return value if len(value) <= keep + 1 else value[:keep] + "…"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def register_filters(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.filters.update(when=when, duration_ms=duration_ms, short=short, percent=percent)
    env.autoescape = True


def error_page(request: AnyRequest, exc: Exception) -> Response[Any] | Template:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "unexpected error"
    extra = getattr(exc, "extra", None)
    if isinstance(extra, list):
        detail += "; " + "; ".join(str(e.get("message", e)) for e in extra if isinstance(e, dict))
    if is_htmx(request):
        return Response(detail, status_code=status, media_type="text/plain")
    headers = getattr(exc, "headers", None) or {}
    rendered = page(request, "error.html", session_of(request), {
        "status": status, "title": _TITLES.get(status, "Error"), "detail": detail},
        status_code=status)  # fmt: skip
    rendered.headers.update(headers)
    return rendered

"""RFC 9457 problem details for every error, and their OpenAPI description."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import msgspec
import nats.errors
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from macrohard.eventlog.errors import LogUnavailable

log = logging.getLogger("macrohard.gateway")

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class FieldError(msgspec.Struct, kw_only=True):
    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: list[FieldError] = []


def problem(
    status: int,
    detail: str,
    *,
    instance: str = "",
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = Problem(
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=instance,
        errors=errors or [],
    )
    return Response(
        msgspec.json.encode(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_errors(extra: Any) -> list[FieldError]:
    out: list[FieldError] = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "body")
            out.append(FieldError(field=key, message=str(item.get("message", ""))))
    return out


def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    # Litestar says 400 for every validation failure; the API contract says 422 naming the field.
    errors = _field_errors(exc.extra) or [FieldError(field="body", message=str(exc.detail))]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem(422, detail, instance=request.url.path, errors=errors)


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status == 400:  # e.g. a body that is not JSON at all: still the request's fault
        return problem(
            422, str(exc.detail), instance=request.url.path, errors=_field_errors(exc.extra)
        )
    return problem(status, str(exc.detail), instance=request.url.path, headers=exc.headers)


# How long a client should wait before retrying when a dependency is down: a supervised
# NATS or PostgreSQL is back within seconds.
RETRY_AFTER_S = 2


def on_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """NATS or PostgreSQL unreachable: 503 with Retry-After, never a 500. Appends are refused
    while disconnected (LogUnavailable), so nothing answered here is stored later; with an
    Idempotency-Key a retry is always safe."""
    log.warning(
        "dependency unavailable",
        extra={"path": request.url.path, "error": f"{type(exc).__name__}: {exc}"},
    )
    return problem(
        503,
        "a platform dependency is unavailable; retry after a moment (reuse the Idempotency-Key)",
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error", extra={"path": request.url.path})
    return problem(500, "internal error", instance=request.url.path)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ValidationException: on_validation,
    HTTPException: on_http,
    # The bus or the database is down (or restarting): the request's fate is known (nothing
    # stored), so the client is told to retry rather than that the platform broke.
    LogUnavailable: on_unavailable,
    nats.errors.Error: on_unavailable,
    asyncpg.PostgresConnectionError: on_unavailable,
    asyncpg.InterfaceError: on_unavailable,
    ConnectionError: on_unavailable,
    TimeoutError: on_unavailable,
    Exception: on_unexpected,
}


def _spec(text: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, media_type=PROBLEM_JSON, description=text)


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI responses for the errors a route can answer with."""
    texts = {
        401: "Missing, malformed or revoked API key",
        403: "Past a limit of the tenant's plan (named in `detail`)",
        404: "No such resource for this tenant",
        409: "Conflict (idempotent request still in flight, or task already finished)",
        413: "Request body (or file) too large for the route or the tenant's plan",
        415: "A file of a content type the tenant's plan does not allow",
        422: "A field failed validation (named in `errors`)",
        429: "Rate limited; see Retry-After",
        503: "Read model behind, or NATS/PostgreSQL unreachable; see Retry-After",
    }
    return {s: _spec(texts[s]) for s in statuses}


# Every authenticated route can answer these.
COMMON = (401, 404, 413, 422, 429, 503)

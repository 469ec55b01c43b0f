"""What every console handler shares: who is signed in, CSRF on unsafe requests, rendering.

A handler asks for the role it needs (`tenant(request)`, `operator(request)`); without a
valid session it gets `SignInRequired`, which the console router turns into a redirect to
the sign-in page for a page load and a plain 401 for anything else (fragments, images, SSE).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect, Template

from macrohard.gateway.console.session import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    LIFETIME_S,
    ConsoleSession,
    csrf_ok,
    seal,
    unseal,
)
from macrohard.gateway.context import GatewayContext, Principal

AnyRequest = Request[Any, Any, Any]
PREFIX = "/console"


class SignInRequired(NotAuthorizedException):
    """No session, an expired or forged one, or a credential that no longer works."""


class CsrfRefused(HTTPException):
    status_code = 403


def gateway(request: AnyRequest) -> GatewayContext:
    ctx: GatewayContext = request.app.state.gateway
    return ctx


def session_of(request: AnyRequest) -> ConsoleSession | None:
    return unseal(gateway(request).settings.master_key, request.cookies.get(COOKIE))


@dataclass(frozen=True, slots=True)
class Tenant:
    session: ConsoleSession
    principal: Principal

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id


async def tenant(request: AnyRequest) -> Tenant:
    """The signed-in tenant, authenticated exactly as an API call with its key would be."""
    session = session_of(request)
    if session is None or session.role != "tenant":
        raise SignInRequired(detail="sign in with an API key")
    try:
        principal = await gateway(request).authenticate(f"Bearer {session.credential}")
    except NotAuthorizedException as exc:  # revoked since sign-in
        raise SignInRequired(detail="this API key no longer works") from exc
    return Tenant(session, principal)


def operator(request: AnyRequest) -> ConsoleSession:
    session = session_of(request)
    if session is None or session.role != "operator":
        raise SignInRequired(detail="sign in with the operator's admin token")
    try:
        gateway(request).check_admin(f"Bearer {session.credential}")
    except NotAuthorizedException as exc:  # the token was rotated since sign-in
        raise SignInRequired(detail="the admin token has changed") from exc
    return session


async def checked_form(request: AnyRequest, session: ConsoleSession) -> dict[str, str]:
    """The submitted form, once its CSRF token matches the session's (else 403)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    sent = request.headers.get(CSRF_HEADER) or fields.get(CSRF_FIELD)
    if not csrf_ok(session, sent):
        raise CsrfRefused(detail="missing or wrong CSRF token: reload the page and try again")
    return fields


def session_cookie(request: AnyRequest, session: ConsoleSession | None) -> Cookie:
    """Set (or, with None, clear) the session cookie: HttpOnly, SameSite=Strict, and Secure
    whenever the console is reached over https."""
    secure = request.url.scheme == "https"
    if session is None:
        return Cookie(key=COOKIE, value="", max_age=0, path=PREFIX, httponly=True,
                      samesite="strict", secure=secure)  # fmt: skip
    return Cookie(
        key=COOKIE,
        value=seal(gateway(request).settings.master_key, session),
        max_age=LIFETIME_S,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def page(
    request: AnyRequest,
    name: str,
    session: ConsoleSession | None,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Template:
    """Render a template with what every page shows (role, CSRF token, where we are)."""
    values: dict[str, Any] = {
        "session": session,
        "csrf": session.csrf if session else "",
        "path": request.url.path,
        "now": time.time(),
        **(context or {}),
    }
    return Template(
        template_name=name,
        context=values,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


def is_htmx(request: AnyRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def see_other(url: str) -> Redirect:
    return Redirect(path=url, status_code=303)


def not_signed_in(request: AnyRequest, exc: Exception) -> Response[Any]:
    wants_page = request.method == "GET" and not is_htmx(request)
    accepts_html = "text/html" in request.headers.get("accept", "")
    if wants_page and accepts_html:
        return Redirect(path=f"{PREFIX}/login", status_code=303)
    return Response(
        content=str(getattr(exc, "detail", "sign in required")),
        status_code=401,
        media_type="text/plain",
    )

"""Signing in and out. A tenant signs in with one of its API keys, an operator with the admin
token; both are checked by the same functions the API uses before a session is sealed.

The sign-in form has its own CSRF token (double submit: a random value in a short-lived
HttpOnly cookie and in the form), so another site cannot sign a browser into its own account.
"""

from __future__ import annotations

import hmac
import secrets
import time

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException
from litestar.response import Template

from macrohard.gateway import keys
from macrohard.gateway.console.session import CSRF_FIELD, new_session
from macrohard.gateway.console.web import (
    PREFIX,
    AnyRequest,
    CsrfRefused,
    checked_form,
    gateway,
    page,
    see_other,
    session_cookie,
    session_of,
)

LOGIN_COOKIE = "mh_console_login"


def _login_page(request: AnyRequest, error: str = "", status_code: int = 200) -> Template:
    token = secrets.token_urlsafe(24)
    response = page(
        request, "login.html", None, {"login_csrf": token, "error": error}, status_code=status_code
    )
    response.cookies.append(
        Cookie(key=LOGIN_COOKIE, value=token, max_age=1800, path=f"{PREFIX}/login",
               httponly=True, samesite="strict", secure=request.url.scheme == "https")
    )  # fmt: skip
    return response


@get(f"{PREFIX}/login", include_in_schema=False)
async def login_form(request: AnyRequest) -> Template:
    return _login_page(request)


@post(f"{PREFIX}/login", include_in_schema=False, status_code=303)
async def login(request: AnyRequest) -> Response[str] | Template:
    form = await request.form()
    sent, expected = form.get(CSRF_FIELD), request.cookies.get(LOGIN_COOKIE)
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent, expected)):
        raise CsrfRefused(detail="the sign-in form expired or came from elsewhere: reload it")
    credential = str(form.get("credential", "")).strip()
    ctx = gateway(request)
    now = time.time()
    if credential.startswith(keys.KEY_PREFIX):
        try:
            who = await ctx.authenticate(f"Bearer {credential}")
        except NotAuthorizedException:
            return _login_page(request, "That API key is not valid.", 401)
        session = new_session("tenant", credential, tenant_id=who.tenant_id, now=now)
        target = f"{PREFIX}/tasks"
    else:
        try:
            ctx.check_admin(f"Bearer {credential}")
        except NotAuthorizedException:
            return _login_page(request, "That is neither an API key nor the admin token.", 401)
        session = new_session("operator", credential, now=now)
        target = f"{PREFIX}/fleet"
    response = see_other(target)
    response.cookies.append(session_cookie(request, session))
    return response


@post(f"{PREFIX}/logout", include_in_schema=False, status_code=303)
async def logout(request: AnyRequest) -> Response[str]:
    session = session_of(request)
    if session is not None:
        await checked_form(request, session)
    response = see_other(f"{PREFIX}/login")
    response.cookies.append(session_cookie(request, None))
    return response


@get(PREFIX, include_in_schema=False)
async def home(request: AnyRequest) -> Response[str]:
    session = session_of(request)
    if session is None:
        return see_other(f"{PREFIX}/login")
    return see_other(f"{PREFIX}/tasks" if session.role == "tenant" else f"{PREFIX}/fleet")


ROUTES = [login_form, login, logout, home]

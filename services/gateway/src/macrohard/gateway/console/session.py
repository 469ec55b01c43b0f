"""Console sessions: a sealed cookie that carries the caller's credential, and CSRF tokens.

Why the cookie carries the API key (sealed) rather than a session id: every console request
then authenticates exactly as the API does (`GatewayContext.authenticate`, same cache, same
rate limit), so a revoked key ends its console sessions at once and a tenant can never see
more through the console than through the API. Nothing per session is stored server-side, so
any gateway replica answers any request.

Sealing is AES-256-GCM with a key derived from the gateway's master key (HKDF, its own
purpose), so the browser can neither read nor forge a session; the expiry is inside the
sealed payload. The cookie is HttpOnly, SameSite=Strict, Path=/console, and Secure whenever
the request came over https.

CSRF: a synchronizer token, random per session and sealed with it. Every unsafe request
must send it back (form field `_csrf` or header `X-CSRF-Token`); it is compared in constant
time. SameSite=Strict already keeps cross-site requests from carrying the cookie; the token
is the second, independent line (it also covers same-site subdomains).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from typing import Literal

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from macrohard.gateway.secrets import tenant_key

COOKIE = "mh_console"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
LIFETIME_S = 12 * 3600
_PURPOSE = b"macrohard/console/session/v1"

Role = Literal["tenant", "operator"]


class ConsoleSession(msgspec.Struct, frozen=True, kw_only=True):
    role: Role
    credential: str  # the tenant's API key or the operator's admin token
    csrf: str
    expires_at: int
    tenant_id: str = ""  # filled for tenants, for display; authority comes from `credential`


def new_session(role: Role, credential: str, *, tenant_id: str = "", now: float) -> ConsoleSession:
    return ConsoleSession(
        role=role,
        credential=credential,
        csrf=secrets.token_urlsafe(24),
        expires_at=int(now) + LIFETIME_S,
        tenant_id=tenant_id,
    )


def _key(master: bytes) -> bytes:
    return tenant_key(master, "console", purpose=_PURPOSE)


def seal(master: bytes, session: ConsoleSession) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_key(master)).encrypt(nonce, msgspec.json.encode(session), COOKIE.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(master: bytes, value: str | None, *, now: float | None = None) -> ConsoleSession | None:
    """The session in a cookie value, or None if absent, tampered with, or expired."""
    if not value or len(value) > 4096:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        plain = AESGCM(_key(master)).decrypt(raw[:12], raw[12:], COOKIE.encode())
        session = msgspec.json.decode(plain, type=ConsoleSession)
    except (binascii.Error, ValueError, InvalidTag, msgspec.DecodeError):
        return None
    if session.expires_at < (time.time() if now is None else now):
        return None
    return session


def csrf_ok(session: ConsoleSession, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode())

"""A small multi-page back office written for the end-to-end tests (served by LocalSite).

A login with a password and a TOTP second factor, a table of orders with a status filter,
a CSV export, a file upload form, an account page and a "Delete order" button. The server
keeps what it saw (logins, deletes, uploads, pages served to a signed-in session), so a test
proves what reached the site from the site's side: a reused session shows no second login.
The TOTP check is the site's own (RFC 6238 written here from the RFC, not the actuator's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from macrohard.devkit.pages import PageReply, PageRequest
from tests.files_site import form_file

USER = "ada"
PASSWORD = "correct horse battery staple"
TOTP_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
ORDERS = [
    ("1041", "Ada Lovelace", "Shipped", "120.50"),
    ("1042", "Charles Babbage", "Pending", "80.00"),
    ("1043", "Grace Hopper", "Shipped", "42.00"),
    ("1044", "Alan Turing", "Cancelled", "19.99"),
]
CSV = ("order,customer,status,total\n" + "".join(f"{','.join(o)}\n" for o in ORDERS)).encode()


def totp(seed: str, at: float, step: int = 30) -> str:
    key = base64.b32decode(seed + "=" * (-len(seed) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at // step)), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return str((struct.unpack(">I", mac[o : o + 4])[0] & 0x7FFFFFFF) % 1_000_000).zfill(6)


def _page(title: str, body: str) -> PageReply:
    return PageReply(body=f"<!doctype html><html><head><title>{title}</title></head>"
                          f"<body><h1>{title}</h1>{body}</body></html>")  # fmt: skip


def _redirect(to: str, cookie: str = "") -> PageReply:
    headers = {"Location": to}
    if cookie:
        headers["Set-Cookie"] = cookie
    return PageReply(status=303, headers=headers)


def _cookies(request: PageRequest) -> dict[str, str]:
    raw = request.headers.get("Cookie", "") or request.headers.get("cookie", "")
    pairs = (c.strip().partition("=") for c in raw.split(";") if "=" in c)
    return {k: v for k, _, v in pairs}


def _form(request: PageRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}


@dataclass
class Shop:
    """The site's state; `route` is what LocalSite serves."""

    logins: int = 0  # completed logins (password + code)
    password_posts: int = 0
    sessions: set[str] = field(default_factory=set)
    pre_auth: set[str] = field(default_factory=set)
    signed_in_views: list[str] = field(default_factory=list)  # paths served to a session
    deleted: list[str] = field(default_factory=list)
    uploads: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, bytes)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, request: PageRequest) -> PageReply | None:
        with self._lock:
            return self._route(request)

    def _route(self, request: PageRequest) -> PageReply | None:
        path, method = request.path, request.method
        if path == "/status":  # public: what a scheduled check looks at
            return _page("Status", '<p>All systems normal.</p><a href="/status">Refresh</a>')
        if path == "/login":
            if method == "POST":
                return self._password(_form(request))
            return _page(
                "Sign in",
                """<form method="post" action="/login">
              <label>Username <input name="username"></label>
              <label>Password <input name="password" type="password"></label>
              <button type="submit">Sign in</button></form>""",
            )
        if path == "/verify":
            token = _cookies(request).get("pre", "")
            if token not in self.pre_auth:
                return _redirect("/login")
            if method == "POST":
                return self._code(token, _form(request))
            return _page(
                "Two-factor code",
                """<form method="post" action="/verify">
              <label>Code <input name="code" inputmode="numeric"></label>
              <button type="submit">Verify</button></form>""",
            )
        sid = _cookies(request).get("sid", "")
        if sid not in self.sessions:
            return _redirect("/login")
        self.signed_in_views.append(path)
        if path == "/orders":
            return self._orders(request.query.get("status", ["All"])[0])
        if path == "/account":
            return _page("Account", f"<p>Signed in as {USER}.</p>"
                                    '<a href="/orders">Orders</a>')  # fmt: skip
        if path == "/export.csv":
            return PageReply(
                body=CSV,
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
            )
        if path == "/upload" and method == "GET":
            return _page(
                "Upload",
                """<form method="post" action="/upload"
              enctype="multipart/form-data"><label>Invoice <input type="file" name="invoice">
              </label><button type="submit">Upload</button></form>""",
            )
        if path == "/upload" and method == "POST":
            self.uploads.append(form_file(request))
            return _page("Uploaded", "<p>Thank you, the file was received.</p>")
        if path == "/delete" and method == "POST":
            self.deleted.append(_form(request).get("order", ""))
            return _page("Deleted", f"<p>Order {html.escape(self.deleted[-1])} deleted.</p>")
        return None

    def _password(self, form: dict[str, str]) -> PageReply:
        self.password_posts += 1
        if form.get("username") != USER or form.get("password") != PASSWORD:
            return _page("Sign in", "<p>Wrong username or password.</p>")
        token = secrets.token_hex(8)
        self.pre_auth.add(token)
        return _redirect("/verify", f"pre={token}; Path=/; HttpOnly")

    def _code(self, token: str, form: dict[str, str]) -> PageReply:
        now = time.time()
        # The code of this 30 s window or the one before (typing takes a moment).
        if form.get("code") not in (totp(TOTP_SEED, now), totp(TOTP_SEED, now - 30)):
            return _page("Two-factor code", "<p>Wrong code.</p>")
        self.pre_auth.discard(token)
        sid = secrets.token_hex(16)
        self.sessions.add(sid)
        self.logins += 1
        return _redirect("/orders", f"sid={sid}; Path=/; HttpOnly; Max-Age=3600")

    def _orders(self, status: str) -> PageReply:
        shown = [o for o in ORDERS if status in ("All", o[2])]
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in o) + "</tr>" for o in shown
        )
        options = "".join(
            f"<option{' selected' if s == status else ''}>{s}</option>"
            for s in ("All", "Shipped", "Pending", "Cancelled")
        )
        return _page(
            "Orders",
            f"""
          <form method="get" action="/orders"><label>Status
            <select name="status">{options}</select></label>
            <button type="submit">Filter</button></form>
          <table><tr><th>Order</th><th>Customer</th><th>Status</th><th>Total</th></tr>
          {rows}</table>
          <p><a href="/export.csv">Export CSV</a> <a href="/upload">Upload invoice</a>
             <a href="/account">Account</a></p>
          <form method="post" action="/delete"><input type="hidden" name="order" value="1042">
            <button type="submit">Delete order 1042</button></form>""",
        )

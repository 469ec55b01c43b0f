"""API keys: `mh_live_<30 random base62><6 base62 CRC32 of the rest>`.

Why this shape: a fixed prefix and a checksum let secret scanners (GitHub's, ours) recognise a
leaked key without a database and without false positives on random strings, the way
GitHub's `ghp_` tokens do. Only the SHA-256 of the whole key is stored; lookups go by hash
and the stored hash is compared with `hmac.compare_digest` so timing says nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib
from dataclasses import dataclass

KEY_PREFIX = "mh_live_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LEN = 30  # 30 base62 chars = 178 bits of entropy
_CHECK_LEN = 6  # 62**6 > 2**32: a CRC32 always fits


def _base62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, rem = divmod(value, 62)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECK_LEN)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly minted key: `secret` is shown once, the rest is what the log keeps."""

    secret: str
    key_hash: str
    prefix: str
    preview: str


def mint() -> NewApiKey:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LEN))
    secret = KEY_PREFIX + body + checksum(body)
    return NewApiKey(
        secret=secret, key_hash=hash_key(secret), prefix=KEY_PREFIX, preview=preview(secret)
    )


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def preview(secret: str) -> str:
    """What a listing shows: the prefix and the last four characters."""
    return f"{KEY_PREFIX}...{secret[-4:]}"


def well_formed(secret: str) -> bool:
    """Prefix, length, alphabet and checksum: rejects typos before any database work."""
    if not secret.startswith(KEY_PREFIX):
        return False
    rest = secret[len(KEY_PREFIX) :]
    if len(rest) != _BODY_LEN + _CHECK_LEN or any(c not in _ALPHABET for c in rest):
        return False
    body, check = rest[:_BODY_LEN], rest[_BODY_LEN:]
    return hmac.compare_digest(checksum(body), check)


def hashes_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

"""Two-factor codes: `{{totp:NAME}}` becomes the current RFC 6238 code at the moment of typing.

The tenant seals a TOTP seed (base32, as authenticator apps show it) with the task, exactly
like a secret (`TaskSubmitted.totp_seeds`). Only the actuator opens it, and only to compute
the 6-digit code it is about to type: neither the seed nor the code ever enters the log
(both are added to the scrub list of the task's observations and errors).

Pure functions, time as an argument: the RFC 6238 test vectors check them exactly.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import struct
from collections.abc import Mapping

TOTP_PLACEHOLDER = re.compile(r"\{\{totp:([A-Za-z0-9_.-]{1,64})\}\}")
PERIOD_S = 30
DIGITS = 6


class MissingTotpSeed(KeyError):
    """The intent names a TOTP seed the task was not given."""


class InvalidTotpSeed(ValueError):
    """The sealed seed is not base32 (the gateway refuses these, so this means tampering)."""


def totp_names(text: str) -> list[str]:
    return TOTP_PLACEHOLDER.findall(text)


def decode_seed(seed: str) -> bytes:
    """A base32 seed as apps show it: any case, spaces and missing padding allowed."""
    compact = "".join(seed.split()).upper()
    try:
        return base64.b32decode(compact + "=" * (-len(compact) % 8))
    except binascii.Error as exc:
        raise InvalidTotpSeed("the TOTP seed is not base32") from exc


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: HMAC of the 8-byte counter, dynamic truncation, `digits` decimal digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def totp_code(
    key: bytes, at_unix: float, *, period_s: int = PERIOD_S, digits: int = DIGITS,
    digest: str = "sha1",
) -> str:  # fmt: skip
    """RFC 6238: the HOTP of the number of `period_s` steps since the Unix epoch."""
    return hotp(key, int(at_unix // period_s), digits, digest)


def fill_totp(text: str, seeds: Mapping[str, str], at_unix: float) -> tuple[str, list[str]]:
    """Replace every `{{totp:NAME}}` with its code at `at_unix`; also returns the codes
    (so the caller can scrub them from what it observes next)."""
    codes: list[str] = []

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in seeds:
            raise MissingTotpSeed(name)
        code = totp_code(decode_seed(seeds[name]), at_unix)
        codes.append(code)
        return code

    return TOTP_PLACEHOLDER.sub(one, text), codes

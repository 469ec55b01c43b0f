"""Task secrets, sealed per tenant (AES-256-GCM) so plaintext never enters the log.

Key handling:
- One master key, `MH_SECRETS_KEY` (32 bytes, base64url). `mh up` generates it once into
  `<data-dir>/secrets-key` (mode 0600) with `ensure_master_key`, like the admin token.
- Each tenant's data key is HKDF-SHA256(master, salt=b"macrohard/secrets/v1", info=tenant id):
  one tenant's key opens nothing of another's, and nothing per tenant has to be stored.
- `SealedSecret.key_id` names the master key generation (`k1` = first 8 hex of SHA-256 of the
  master), so a later rotation can keep old keys for opening while sealing with the new one.
- The associated data binds a ciphertext to its tenant, task and secret name: a sealed value
  copied into another task or tenant fails to open.
Only the actuator calls `open_secret`, just before typing the value.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import secrets as _random
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from macrohard.contracts.tasks import SealedSecret
from macrohard.eventlog.service import secret_from_env

MASTER_KEY_ENV = "MH_SECRETS_KEY"
MASTER_KEY_FILE = "secrets-key"
_SALT = b"macrohard/secrets/v1"


class SecretsKeyMissing(RuntimeError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_master_key() -> str:
    return _b64(_random.token_bytes(32))


def ensure_master_key(data_dir: Path) -> str:
    """MH_SECRETS_KEY (or the file MH_SECRETS_KEY_FILE names) if set, else the one in
    `<data_dir>/secrets-key`, created once (0600)."""
    env = secret_from_env(MASTER_KEY_ENV)
    if env:
        return env
    path = data_dir / MASTER_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = new_master_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def master_key_from_env() -> bytes:
    """MH_SECRETS_KEY, else `$MH_DATA_DIR/secrets-key` (what `mh up` services share)."""
    value = secret_from_env(MASTER_KEY_ENV)
    if not value and os.environ.get("MH_DATA_DIR"):
        path = Path(os.environ["MH_DATA_DIR"]) / MASTER_KEY_FILE
        value = path.read_text().strip() if path.exists() else None
    if not value:
        raise SecretsKeyMissing(f"{MASTER_KEY_ENV} is not set (mh up generates one)")
    return decode_master_key(value)


def decode_master_key(value: str) -> bytes:
    raw = _unb64(value.strip())
    if len(raw) != 32:
        raise SecretsKeyMissing(f"{MASTER_KEY_ENV} must be 32 bytes, base64url")
    return raw


def master_key_id(master: bytes) -> str:
    return "k1-" + hashlib.sha256(master).hexdigest()[:8]


@functools.lru_cache(maxsize=4096)
def tenant_key(master: bytes, tenant: str, purpose: bytes = _SALT) -> bytes:
    """The tenant's 256-bit data key for `purpose` (HKDF, tenant id as info)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=purpose, info=tenant.encode())
    return hkdf.derive(master)


def _aad(tenant: str, task_id: str, name: str) -> bytes:
    return f"{tenant}/{task_id}/{name}".encode()


def seal_secret(master: bytes, tenant: str, task_id: str, name: str, value: str) -> SealedSecret:
    nonce = _random.token_bytes(12)
    ct = AESGCM(tenant_key(master, tenant)).encrypt(
        nonce, value.encode(), _aad(tenant, task_id, name)
    )
    return SealedSecret(key_id=master_key_id(master), nonce=_b64(nonce), ciphertext=_b64(ct))


def open_secret(
    sealed: SealedSecret, *, tenant: str, task_id: str, name: str, master: bytes | None = None
) -> str:
    """Plaintext of a sealed task secret (for the actuator). Raises InvalidTag if tampered."""
    key = master if master is not None else master_key_from_env()
    if sealed.key_id != master_key_id(key):
        raise SecretsKeyMissing(f"secret sealed with {sealed.key_id}, have {master_key_id(key)}")
    plain = AESGCM(tenant_key(key, tenant)).decrypt(
        _unb64(sealed.nonce), _unb64(sealed.ciphertext), _aad(tenant, task_id, name)
    )
    return plain.decode()


def webhook_signing_key(master: bytes, tenant: str) -> str:
    """The tenant's webhook HMAC secret, derived so it needs no storage (shown via the API)."""
    return "whsec_" + _b64(tenant_key(master, tenant, purpose=b"macrohard/webhooks/v1"))


def fingerprint_key(master: bytes, tenant: str) -> bytes:
    """The tenant's key for Idempotency-Key request fingerprints (HMAC), never stored."""
    return tenant_key(master, tenant, purpose=b"macrohard/idempotency/v1")

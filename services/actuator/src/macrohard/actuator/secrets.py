"""Opening a task's sealed secrets: the one place in the platform that sees plaintext.

The gateway seals (`macrohard.gateway.secrets.seal_secret`) and owns the key scheme; the
actuator only needs the matching open call, behind this small interface so it can be wired
without importing the gateway package where that is not installed.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Protocol

from macrohard.contracts.tasks import SealedSecret
from macrohard.eventlog.service import secret_from_env


class SecretOpener(Protocol):
    """`macrohard.gateway.secrets.open_secret`'s signature: plaintext of one sealed secret."""

    def __call__(self, sealed: SealedSecret, *, tenant: str, task_id: str, name: str) -> str: ...


class SecretsUnavailable(RuntimeError):
    """No opener is installed, or the task has no such secret: the type action fails."""


def master_key() -> bytes:
    """The secrets master key the gateway seals with: MH_SECRETS_KEY, else the one the
    gateway keeps in `<MH_DATA_DIR>/secrets-key` (as `mh up` runs them). Read at use, so a
    key the gateway creates after we started is found."""
    module = importlib.import_module("macrohard.gateway.secrets")
    value = secret_from_env(module.MASTER_KEY_ENV)
    if not value:
        path = Path(os.environ.get("MH_DATA_DIR", ".mh")) / module.MASTER_KEY_FILE
        if not path.exists():
            raise SecretsUnavailable(f"no {module.MASTER_KEY_ENV} and no {path}")
        value = path.read_text().strip()
    key: bytes = module.decode_master_key(value)
    return key


def gateway_opener() -> SecretOpener | None:
    """The gateway's open_secret when the gateway package is importable (it is under `mh up`)."""
    try:
        module = importlib.import_module("macrohard.gateway.secrets")
    except ImportError:
        return None

    def opener(sealed: SealedSecret, *, tenant: str, task_id: str, name: str) -> str:
        plain: str = module.open_secret(
            sealed, tenant=tenant, task_id=task_id, name=name, master=master_key()
        )
        return plain

    return opener


class SecretSealer(Protocol):
    """`macrohard.gateway.secrets.seal_secret` with the master key bound: seals a value for
    one tenant (a saved session's browser state, sealed here after its task)."""

    def __call__(self, *, tenant: str, task_id: str, name: str, value: str) -> SealedSecret: ...


def gateway_sealer() -> SecretSealer | None:
    """The gateway's seal_secret when the gateway package is importable (as for the opener)."""
    try:
        module = importlib.import_module("macrohard.gateway.secrets")
    except ImportError:
        return None

    def sealer(*, tenant: str, task_id: str, name: str, value: str) -> SealedSecret:
        sealed: SealedSecret = module.seal_secret(master_key(), tenant, task_id, name, value)
        return sealed

    return sealer

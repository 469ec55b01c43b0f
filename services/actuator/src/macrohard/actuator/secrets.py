"""Opening a task's sealed secrets: the one place in the platform that sees plaintext.

The gateway seals (`macrohard.gateway.secrets.seal_secret`) and owns the key scheme; the
actuator only needs the matching open call, behind this small interface so it can be wired
without importing the gateway package where that is not installed.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from macrohard.contracts.tasks import SealedSecret


class SecretOpener(Protocol):
    """`macrohard.gateway.secrets.open_secret`'s signature: plaintext of one sealed secret."""

    def __call__(self, sealed: SealedSecret, *, tenant: str, task_id: str, name: str) -> str: ...


class SecretsUnavailable(RuntimeError):
    """No opener is installed, or the task has no such secret: the type action fails."""


def gateway_opener() -> SecretOpener | None:
    """The gateway's open_secret when the gateway package is importable (it is under `mh up`)."""
    try:
        module = importlib.import_module("macrohard.gateway.secrets")
    except ImportError:
        return None
    opener: SecretOpener | None = getattr(module, "open_secret", None)
    return opener

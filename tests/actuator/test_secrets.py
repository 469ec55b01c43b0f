"""The actuator opens secrets the gateway sealed, with the key `mh up` hands every service."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag

from macrohard.actuator.secrets import gateway_opener
from macrohard.gateway.secrets import new_master_key, seal_secret


def test_the_production_opener_opens_what_the_gateway_sealed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = new_master_key()
    monkeypatch.setenv("MH_SECRETS_KEY", key)
    master = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    sealed = seal_secret(master, "acme", "t-1", "password", "hunter2")
    opener = gateway_opener()
    assert opener is not None
    assert opener(sealed, tenant="acme", task_id="t-1", name="password") == "hunter2"
    # Bound to its task: the same ciphertext does not open for another task.
    with pytest.raises(InvalidTag):
        opener(sealed, tenant="acme", task_id="t-2", name="password")

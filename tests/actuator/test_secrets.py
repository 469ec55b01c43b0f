"""The actuator opens secrets the gateway sealed, with the key `mh up` hands every service."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from macrohard.actuator.secrets import gateway_opener
from macrohard.gateway.secrets import (
    decode_master_key,
    ensure_master_key,
    new_master_key,
    seal_secret,
)


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


def test_without_the_env_key_the_gateways_key_file_in_the_data_dir_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MH_SECRETS_KEY", raising=False)
    monkeypatch.setenv("MH_DATA_DIR", str(tmp_path))
    opener = gateway_opener()
    assert opener is not None
    key = ensure_master_key(tmp_path)  # what the gateway does at start under `mh up`
    sealed = seal_secret(decode_master_key(key), "acme", "t-1", "pin", "0000")
    assert opener(sealed, tenant="acme", task_id="t-1", name="pin") == "0000"

"""Compose hands the admin token and the secrets key over as files; the services read them."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from macrohard.actuator.secrets import master_key
from macrohard.cli.deploy_cmd import compose_secrets
from macrohard.eventlog.service import ServiceConfig
from macrohard.gateway.main import settings_from
from macrohard.gateway.secrets import decode_master_key


def test_mh_deploy_secrets_writes_owner_only_files_once(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "macrohard.cli.main", "deploy", "secrets", "--dir", str(tmp_path)]
    first = subprocess.run(run, capture_output=True, text=True, check=True)
    assert "wrote" in first.stdout
    token, key = (tmp_path / "admin-token"), (tmp_path / "secrets-key")
    for path in (token, key):
        assert path.stat().st_mode & 0o077 == 0
    assert len(decode_master_key(key.read_text())) == 32
    before = token.read_text()
    again = subprocess.run(run, capture_output=True, text=True, check=True)
    assert "kept" in again.stdout and token.read_text() == before


def test_the_gateway_and_actuator_read_their_secrets_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compose_secrets(argparse.Namespace(dir=tmp_path, owner=None))
    for var in ("MH_ADMIN_TOKEN", "MH_SECRETS_KEY", "MH_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MH_ADMIN_TOKEN_FILE", str(tmp_path / "admin-token"))
    monkeypatch.setenv("MH_SECRETS_KEY_FILE", str(tmp_path / "secrets-key"))
    settings = settings_from(ServiceConfig(name="gateway"))
    assert settings.admin_token == (tmp_path / "admin-token").read_text().strip()
    expected = decode_master_key((tmp_path / "secrets-key").read_text())
    assert settings.master_key == expected
    assert master_key() == expected

"""The gateway as `mh up` runs it: its own OS process, configured from the environment."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from macrohard.devkit.embedded import free_port
from macrohard.gateway.secrets import MASTER_KEY_FILE
from tests.gateway.process import start_gateway, wait_ready


async def test_process_serves_ready_and_stops_on_sigterm(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    proc = await start_gateway(nats_url, database_url, tmp_path, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as c:
            await wait_ready(c)
            body = (await c.get("/readyz")).json()
            assert body["checks"]["nats"] == "ok" and body["checks"]["postgres"] == "ok"
            assert (await c.get("/healthz")).json()["status"] == "ok"
            r = await c.post(
                "/v1/tenants", json={"name": "p"}, headers={"Authorization": "Bearer mh_admin_proc"}
            )
            assert r.status_code == 201
        # No MH_SECRETS_KEY: the master key was generated once into the data dir, owner-only.
        key_file = tmp_path / MASTER_KEY_FILE
        assert key_file.exists() and (key_file.stat().st_mode & 0o077) == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 15)
    assert code == 0


def test_build_reads_no_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Tooling (AsyncAPI) builds every service without a platform: nothing may be read yet.
    from macrohard.eventlog import Service, ServiceConfig
    from macrohard.gateway.main import build

    for name in ("MH_ADMIN_TOKEN", "MH_SECRETS_KEY", "MH_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    service = Service(ServiceConfig(name="gateway"))
    build(service)
    assert [p.name for p in service.projections] == ["event_index", "gateway", "gateway_sessions"]

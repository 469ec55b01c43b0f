"""A gateway as `mh up` runs it: its own OS process, configured from the environment."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

ADMIN = "mh_admin_proc"


async def start_gateway(
    nats_url: str, database_url: str, data_dir: Path, port: int
) -> asyncio.subprocess.Process:
    # No MH_SECRETS_KEY: the gateway keeps its key in the data dir, as under `mh up`.
    env = {
        **{k: v for k, v in os.environ.items() if k != "MH_SECRETS_KEY"},
        "MH_NATS_URL": nats_url,
        "MH_DATABASE_URL": database_url,
        "MH_ADMIN_TOKEN": ADMIN,
        "MH_DATA_DIR": str(data_dir),
        "MH_GATEWAY_HTTP_PORT": str(port),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "macrohard.gateway.main", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def wait_ready(client: httpx.AsyncClient, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("gateway not ready")

"""`mh tenants create|list` and `mh keys list|issue|revoke` against the running gateway."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from macrohard.cli.main import main
from tests.gateway.conftest import ADMIN, RunningGateway, running_gateway


@pytest.fixture
async def gw(nats_url: str, database_url: str) -> AsyncIterator[RunningGateway]:
    async with running_gateway(nats_url, database_url) as g:
        yield g


def mh(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    assert done.value.code == 0
    return capsys.readouterr().out


async def test_tenants_and_keys_commands(
    gw: RunningGateway, tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MH_ADMIN_TOKEN", ADMIN)
    where = ["--gateway", gw.url, "--nats", "nats://unused:4222", "--data-dir", str(tmp_path)]

    def run(*argv: str) -> str:
        return mh(capsys, *argv)

    # The CLI is synchronous; the gateway serves on this loop: run it in a thread.
    created = json.loads(
        await asyncio.to_thread(
            run,
            "tenants",
            "create",
            "Globex",
            "--plan",
            "team",
            "--domain",
            "globex.test",
            "--budget",
            "250.00",
            *where,
        )
    )
    listed = json.loads(await asyncio.to_thread(run, "tenants", "list", *where))
    assert listed[0]["tenant_id"] == created["tenant_id"] and listed[0]["plan"] == "team"
    key = ["--api-key", created["api_key"]]
    issued = json.loads(
        await asyncio.to_thread(run, "keys", "issue", "--label", "ci", *key, *where)
    )
    keys = json.loads(await asyncio.to_thread(run, "keys", "list", *key, *where))
    assert {k["key_id"] for k in keys} == {created["key_id"], issued["key_id"]}
    out = await asyncio.to_thread(run, "keys", "revoke", issued["key_id"], *key, *where)
    assert issued["key_id"] in out
    async with gw.client(issued["api_key"]) as c:
        assert (await c.get("/v1/tasks")).status_code == 401

"""Files at the API on real NATS (Object Store) and PostgreSQL: upload, list, fetch with its
type, a task that brings files, plan limits refused with problem+json, delete, replay."""

from __future__ import annotations

import hashlib

import asyncpg

from macrohard.eventlog.projection import ProjectionRunner
from macrohard.gateway.projection import GatewayProjection
from tests.gateway.conftest import RunningGateway, onboard

CSV = b"order,total\n1042,80.00\n"
CSV_ID = hashlib.sha256(CSV).hexdigest()
TASK = {"goal": 'Upload "orders.csv" to Document', "start_url": "https://example.com/upload"}


async def test_upload_list_fetch_bring_and_delete(gw: RunningGateway) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        r = await c.post(
            "/v1/artifacts", params={"name": "orders.csv"}, content=CSV,
            headers={"Content-Type": "text/csv"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["artifact_id"] == CSV_ID and created["size"] == len(CSV)
        assert (created["name"], created["content_type"], created["source"]) == (
            "orders.csv", "text/csv", "upload",
        )  # fmt: skip
        again = await c.post("/v1/artifacts", params={"name": "x.csv"}, content=CSV,
                             headers={"Content-Type": "text/csv"})  # fmt: skip
        assert again.status_code == 201 and again.json()["artifact_id"] == CSV_ID

        listed = (await c.get("/v1/artifacts")).json()["data"]
        assert [a["artifact_id"] for a in listed] == [CSV_ID]
        fetched = await c.get(f"/v1/artifacts/{CSV_ID}")
        assert fetched.status_code == 200 and fetched.content == CSV
        assert fetched.headers["content-type"].startswith("text/csv")
        assert "attachment" in fetched.headers["content-disposition"]
        assert fetched.headers["x-content-type-options"] == "nosniff"

        r = await c.post("/v1/tasks", json={**TASK, "files": [CSV_ID]})
        assert r.status_code == 202, r.text
        view = (await c.get(f"/v1/tasks/{r.json()['task_id']}")).json()
        assert [(f["name"], f["artifact_id"]) for f in view["files"]] == [("orders.csv", CSV_ID)]
        unknown = await c.post("/v1/tasks", json={**TASK, "files": ["0" * 64]})
        assert unknown.status_code == 422 and "files/0" in unknown.text

        gone = await c.delete(f"/v1/artifacts/{CSV_ID}")
        assert gone.status_code == 204
        assert (await c.get(f"/v1/artifacts/{CSV_ID}")).status_code == 404
        assert (await c.delete(f"/v1/artifacts/{CSV_ID}")).status_code == 404
        assert (await c.get("/v1/artifacts")).json()["data"] == []
        r = await c.post("/v1/tasks", json={**TASK, "files": [CSV_ID]})
        assert r.status_code == 422  # a deleted file cannot be brought


async def test_plan_limits_are_refused_before_anything_is_stored(gw: RunningGateway) -> None:
    t = await onboard(gw)  # team: 50 MiB a file, documents and octet-stream, 50 files a task
    async with gw.client(t.api_key) as c:
        exe = await c.post("/v1/artifacts", params={"name": "tool.exe"}, content=b"MZ",
                           headers={"Content-Type": "application/x-msdownload"})  # fmt: skip
        assert exe.status_code == 415, exe.text
        assert exe.headers["content-type"] == "application/problem+json"
        assert "application/x-msdownload is not allowed on the team plan" in exe.json()["detail"]
        big = b"x" * (50 * 1024 * 1024 + 1)
        r = await c.post("/v1/artifacts", params={"name": "big.txt"}, content=big,
                         headers={"Content-Type": "text/plain"})  # fmt: skip
        assert r.status_code == 413, r.text
        assert "allows 52428800 per file" in r.json()["detail"]
        empty = await c.post("/v1/artifacts", content=b"", headers={"Content-Type": "text/plain"})
        assert empty.status_code == 422
        assert (await c.get("/v1/artifacts")).json()["data"] == []

        ids = []
        for n in range(51):
            r = await c.post("/v1/artifacts", params={"name": f"f{n}.txt"},
                             content=f"file {n}".encode(),
                             headers={"Content-Type": "text/plain"})  # fmt: skip
            ids.append(r.json()["artifact_id"])
        r = await c.post("/v1/tasks", json={**TASK, "files": ids})
        assert r.status_code == 403, r.text
        assert r.json()["detail"] == "the team plan allows 50 files per task"


async def test_replay_rebuilds_the_file_list(gw: RunningGateway, database_url: str) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        for n in range(3):
            await c.post("/v1/artifacts", params={"name": f"r{n}.txt"}, content=f"r{n}".encode(),
                         headers={"Content-Type": "text/plain"})  # fmt: skip
        first = (await c.get("/v1/artifacts")).json()["data"]
        assert (await c.delete(f"/v1/artifacts/{first[0]['artifact_id']}")).status_code == 204
    live = await _artifact_rows(database_url)
    assert len(live) == 3 and sum(r["deleted_at"] is not None for r in live) == 1
    # The same projection replayed from the first event into an empty database.
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("CREATE DATABASE replayed")
    finally:
        await admin.close()
    shadow_url = database_url.rsplit("/", 1)[0] + "/replayed"
    shadow = await asyncpg.create_pool(shadow_url, min_size=1, max_size=2)
    try:
        runner = ProjectionRunner(gw.service.nc, shadow, GatewayProjection())
        await runner.setup()
        await runner.catch_up()
    finally:
        await shadow.close()
    assert await _artifact_rows(shadow_url) == live


async def _artifact_rows(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch("SELECT * FROM gateway.artifacts ORDER BY artifact_id"))
    finally:
        await conn.close()

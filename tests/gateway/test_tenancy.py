"""Onboarding and API keys through the real HTTP API."""

from __future__ import annotations

from macrohard.gateway import keys
from tests.gateway.conftest import ADMIN, TASK, RunningGateway, onboard, running_gateway


async def test_onboard_issue_list_revoke(gw: RunningGateway) -> None:
    t = await onboard(gw)
    assert keys.well_formed(t.api_key) and t.api_key.startswith("mh_live_")
    async with gw.client(t.api_key) as c:
        listed = (await c.get("/v1/api-keys")).json()["data"]
        assert [k["key_id"] for k in listed] == [t.key_id]
        assert t.api_key not in str(listed)  # preview only
        second = await c.post("/v1/api-keys", json={"label": "ci"})
        assert second.status_code == 201
        new_key = second.json()["api_key"]
        assert len((await c.get("/v1/api-keys")).json()["data"]) == 2
    async with gw.client(new_key) as c2:
        assert (await c2.get("/v1/tasks")).status_code == 200
        r = await c2.delete(f"/v1/api-keys/{second.json()['key_id']}")
        assert r.status_code == 204
        # Revoked: 401 at once, as problem+json.
        r = await c2.get("/v1/tasks")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 401
    async with gw.client(ADMIN) as admin:
        tenants = (await admin.get("/v1/tenants")).json()["data"]
        assert tenants[0]["tenant_id"] == t.tenant_id
        assert tenants[0]["monthly_budget"] == "100.50"


async def test_bad_keys_and_admin_token(gw: RunningGateway) -> None:
    t = await onboard(gw)
    broken = t.api_key[:-1] + ("A" if t.api_key[-1] != "A" else "B")  # checksum fails
    for token in (None, "nope", broken, keys.mint().secret):
        async with gw.client(token) as c:
            assert (await c.get("/v1/tasks")).status_code == 401
    async with gw.client(t.api_key) as c:  # a tenant key is not the admin token
        assert (await c.post("/v1/tenants", json={"name": "x"})).status_code == 401


async def test_validation_size_and_rate_limit(
    gw: RunningGateway, nats_url: str, database_url: str
) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        r = await c.post("/v1/tasks", json={**TASK, "max_steps": 0})
        assert r.status_code == 422
        assert any("max_steps" in e["field"] for e in r.json()["errors"])
        r = await c.post("/v1/tasks", json={k: v for k, v in TASK.items() if k != "goal"})
        assert r.status_code == 422 and "goal" in r.text
        r = await c.post("/v1/tasks", json={**TASK, "start_url": "https://evil.test/"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start_url"
        sub = await c.post("/v1/tasks", json={**TASK, "start_url": "https://www.example.com/"})
        assert sub.status_code == 202
        r = await c.post("/v1/tasks", json={**TASK, "goal": "x" * 100_000})
        assert r.status_code == 413
        assert r.headers["content-type"].startswith("application/problem+json")
    # A second gateway on the same servers with a tight per-tenant budget: 3 burst, 1 per 5 s.
    slow_gateway = running_gateway(nats_url, database_url, rate_per_s=0.2, rate_burst=3.0)
    async with slow_gateway as slow, slow.client(t.api_key) as c:
        codes = [(await c.post("/v1/tasks", json=TASK)).status_code for _ in range(4)]
        assert codes == [202, 202, 202, 429]
        r = await c.post("/v1/tasks", json=TASK)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


async def test_nul_is_refused_at_the_door(gw: RunningGateway) -> None:
    # Found by schemathesis: a NUL in a label reached the log and stopped the projection.
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        r = await c.post("/v1/api-keys", json={"label": "a\u0000b"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("label")
        assert (await c.get("/v1/tasks/a%00b")).status_code == 404
        assert (await c.post("/v1/api-keys", json={"label": "fine"})).status_code == 201

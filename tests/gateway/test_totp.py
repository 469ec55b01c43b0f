"""TOTP seeds at the API: sealed like secrets, shown by name only, malformed ones refused."""

from __future__ import annotations

from macrohard.contracts.tasks import TaskSubmitted, totp_sealed_name
from macrohard.eventlog import EventStore
from macrohard.gateway.secrets import open_secret
from tests.gateway.conftest import MASTER, TASK, RunningGateway, onboard

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


async def test_a_totp_seed_is_sealed_and_shown_by_name_only(
    gw: RunningGateway, store: EventStore
) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        r = await c.post("/v1/tasks", json={**TASK, "totp": {"crm": SEED}})
        assert r.status_code == 202, r.text
        task_id = r.json()["task_id"]
        shown = await c.get(f"/v1/tasks/{task_id}")
        bad = await c.post("/v1/tasks", json={**TASK, "totp": {"crm": "not-a-seed-0189!"}})
        too_short = await c.post("/v1/tasks", json={**TASK, "totp": {"crm": "JBSWY3DP"}})
    assert shown.json()["totp_names"] == ["crm"] and SEED not in shown.text
    for refused in (bad, too_short):
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
    js = gw.service.nc.jetstream()
    raw = b""
    for seq in range(1, await store.stream_head() + 1):
        raw += (await js.get_msg("EVENTS", seq, direct=True)).data or b""
    assert SEED.encode() not in raw
    submitted = (await store.read_aggregate(t.tenant_id, "task", task_id))[0].payload
    assert isinstance(submitted, TaskSubmitted)
    sealed = submitted.totp_seeds["crm"]
    name = totp_sealed_name("crm")
    opened = open_secret(sealed, tenant=t.tenant_id, task_id=task_id, name=name, master=MASTER)
    assert opened == SEED

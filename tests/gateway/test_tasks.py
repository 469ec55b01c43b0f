"""Tasks through the real HTTP API: submit, read, list, cancel, idempotency, tenant isolation,
the lifecycle fold (planner/actuator events appended straight to the log), and no plaintext
secret anywhere in the stream or the read model."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import msgspec
from nats.aio.client import Client as NATS

from macrohard.billing.domain import period_of
from macrohard.billing.projection import BillingProjection
from macrohard.contracts import envelope
from macrohard.contracts.agent import InferenceCompleted, Intent, IntentEmitted
from macrohard.contracts.browser import ActionExecuted, PageElement, PageObservation, PageObserved
from macrohard.contracts.tasks import TaskCompleted, TaskStarted, TaskSubmitted
from macrohard.eventlog import EventStore, ProjectionRunner
from macrohard.gateway.secrets import open_secret
from tests.gateway.conftest import MASTER, TASK, RunningGateway, onboard


async def test_submit_read_list_cancel(gw: RunningGateway) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        ids = []
        for i in range(5):
            r = await c.post("/v1/tasks", json={**TASK, "goal": f"goal {i}"})
            assert r.status_code == 202, r.text
            assert r.headers["location"] == f"/v1/tasks/{r.json()['task_id']}"
            ids.append(r.json()["task_id"])
            # Read your own write, at once.
            got = await c.get(f"/v1/tasks/{ids[-1]}")
            assert got.status_code == 200 and got.json()["goal"] == f"goal {i}"
            assert got.json()["secret_names"] == ["password"]
        await gw.gateway.context.wait_seen(await gw.service.store.stream_head())  # type: ignore[union-attr]
        page1 = (await c.get("/v1/tasks", params={"limit": 2})).json()
        assert [x["task_id"] for x in page1["data"]] == ids[::-1][:2]
        page2 = (
            await c.get("/v1/tasks", params={"limit": 2, "cursor": page1["next_cursor"]})
        ).json()
        page3 = (
            await c.get("/v1/tasks", params={"limit": 2, "cursor": page2["next_cursor"]})
        ).json()
        seen = [x["task_id"] for p in (page1, page2, page3) for x in p["data"]]
        assert seen == ids[::-1] and page3["next_cursor"] is None
        assert (await c.get("/v1/tasks", params={"cursor": "!!"})).status_code == 422
        r = await c.post(f"/v1/tasks/{ids[0]}/cancel")
        assert r.status_code == 202 and r.json()["cancel_requested"] is True


async def test_lifecycle_steps_and_usage(gw: RunningGateway, store: EventStore) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        task_id = (await c.post("/v1/tasks", json=TASK)).json()["task_id"]
        tenant = t.tenant_id

        async def put(event: msgspec.Struct, aggregate: str = "task") -> None:
            await store.append(
                [envelope(event, tenant=tenant, aggregate_id=task_id)], expected_version=None
            )

        await put(TaskStarted(task_id=task_id, backend="offline"))
        await put(
            IntentEmitted(
                task_id=task_id, step=1, intent=Intent(action="click", element=3), backend="offline"
            )
        )
        await put(
            InferenceCompleted(
                task_id=task_id,
                step=1,
                model="m",
                node_id="car-1",
                owner_account="o",
                lease_id="l",
                compute_ms=12.5,
                input_bytes=100,
                output_bytes=20,
            )
        )
        await put(
            ActionExecuted(
                task_id=task_id,
                step=1,
                intent_event_id="x",
                action="click",
                ok=True,
                duration_ms=40.0,
            )
        )
        obs = PageObservation(
            url="https://example.com/home",
            title="Home\x00",  # a web page's NUL must not stop the read model
            elements=[PageElement(id=1, role="button", name="Go")],
        )
        await put(PageObserved(task_id=task_id, step=1, observation=obs))
        await put(TaskCompleted(task_id=task_id, steps=1, result="downloaded"))
        head = await store.stream_head()
        await gw.gateway.context.wait_seen(head)  # type: ignore[union-attr]
        view = (await c.get(f"/v1/tasks/{task_id}")).json()
        assert view["status"] == "completed" and view["result"] == "downloaded"
        step = view["steps"][0]
        assert step["intent"]["action"] == "click" and step["result"]["ok"] is True
        assert step["observation"] == {
            "url": "https://example.com/home",
            "title": "Home\ufffd",
            "elements": 1,
            "screenshot_sha256": None,
        }
        assert view["usage"]["inferences"] == 1 and view["usage"]["compute_ms"] == 12.5
        assert (await c.post(f"/v1/tasks/{task_id}/cancel")).status_code == 409


async def test_idempotency_key(gw: RunningGateway) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        h = {"Idempotency-Key": "order-42"}
        first = await c.post("/v1/tasks", json=TASK, headers=h)
        # Same content, other key order: the same request.
        again = await c.post("/v1/tasks", json=dict(reversed(list(TASK.items()))), headers=h)
        assert first.status_code == again.status_code == 202
        assert first.json()["task_id"] == again.json()["task_id"]
        other = await c.post("/v1/tasks", json={**TASK, "goal": "something else"}, headers=h)
        assert other.status_code == 422 and "Idempotency-Key" in other.text
        # Concurrent retries of one key: all land on one task, none creates a second.
        rs = await asyncio.gather(
            *(
                c.post("/v1/tasks", json=TASK, headers={"Idempotency-Key": "burst"})
                for _ in range(8)
            )
        )
        accepted = {r.json()["task_id"] for r in rs if r.status_code == 202}
        assert len(accepted) == 1 and all(r.status_code in (202, 409) for r in rs)
        # A retry while the first is in flight (its claim held, here or on a replica): 409.
        ctx = gw.gateway.context
        assert ctx is not None
        assert await ctx.claims.claim(t.tenant_id, "slow")
        assert (
            await c.post("/v1/tasks", json=TASK, headers={"Idempotency-Key": "slow"})
        ).status_code == 409
        await ctx.claims.release(t.tenant_id, "slow")
        assert (
            await c.post("/v1/tasks", json=TASK, headers={"Idempotency-Key": "slow"})
        ).status_code == 202
    t2 = await onboard(gw, "Other")
    async with gw.client(t2.api_key) as c2:  # keys are per tenant
        r = await c2.post("/v1/tasks", json=TASK, headers={"Idempotency-Key": "order-42"})
        assert r.status_code == 202 and r.json()["task_id"] != first.json()["task_id"]


async def test_other_tenant_gets_404_everywhere(gw: RunningGateway) -> None:
    a, b = await onboard(gw, "A"), await onboard(gw, "B")
    async with gw.client(a.api_key) as ca:
        task_id = (await ca.post("/v1/tasks", json=TASK)).json()["task_id"]
    async with gw.client(b.api_key) as cb:
        for method, path in [
            ("GET", f"/v1/tasks/{task_id}"),
            ("POST", f"/v1/tasks/{task_id}/cancel"),
            ("GET", f"/v1/tasks/{task_id}/events"),
            ("DELETE", f"/v1/api-keys/{a.key_id}"),
        ]:
            r = await cb.request(method, path)
            assert r.status_code == 404, (method, path, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
        # Collections are scoped, not refused: B sees none of A's things.
        assert (await cb.get("/v1/tasks")).json()["data"] == []
        assert [k["key_id"] for k in (await cb.get("/v1/api-keys")).json()["data"]] == [b.key_id]
        assert (await cb.get("/v1/usage")).status_code == 200
        assert (await cb.get("/v1/invoices")).json()["data"] == []
        assert (await cb.get("/v1/webhook-secret")).json()["webhook_secret"] == b.webhook_secret
    async with gw.client(a.api_key) as ca:  # A's key still works: B's DELETE did nothing
        assert (await ca.get(f"/v1/tasks/{task_id}")).status_code == 200


async def test_no_secret_plaintext_anywhere(gw: RunningGateway, store: EventStore) -> None:
    t = await onboard(gw)
    secret = "correct horse battery staple 9431"
    async with gw.client(t.api_key) as c:
        task_id = (await c.post("/v1/tasks", json={**TASK, "secrets": {"pw": secret}})).json()[
            "task_id"
        ]
        shown = (await c.get(f"/v1/tasks/{task_id}")).text
    assert secret not in shown
    # The whole stream, raw bytes, every subject.
    js = gw.service.nc.jetstream()
    head = await store.stream_head()
    raw = b""
    for seq in range(1, head + 1):
        raw += (await js.get_msg("EVENTS", seq, direct=True)).data or b""
    assert secret.encode() not in raw and t.api_key.encode() not in raw
    assert gw.gateway.context is not None
    await gw.gateway.context.wait_seen(head)  # the read model has the task too
    async with gw.service.pool.acquire() as conn:
        dump = await conn.fetchval("SELECT string_agg(view::text, '') FROM gateway.tasks")
        keys_dump = await conn.fetchval(
            "SELECT string_agg(key_hash || preview, '') FROM gateway.api_keys"
        )
    assert task_id in dump and secret not in dump and t.api_key not in keys_dump
    # The actuator can open it, bound to tenant, task and name.
    submitted = (await store.read_aggregate(t.tenant_id, "task", task_id))[0].payload
    assert isinstance(submitted, TaskSubmitted)
    sealed = submitted.secrets["pw"]
    assert (
        open_secret(sealed, tenant=t.tenant_id, task_id=task_id, name="pw", master=MASTER) == secret
    )


async def test_usage_and_invoices_come_from_billing(
    gw: RunningGateway, store: EventStore, nc: NATS, pool: asyncpg.Pool
) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        before = (await c.get("/v1/usage")).json()
        assert before["available"] is False  # billing has not run on this platform yet
        task_id = (await c.post("/v1/tasks", json=TASK)).json()["task_id"]
        for step in range(3):
            executed = ActionExecuted(
                task_id=task_id, step=step, intent_event_id="i", action="click", ok=True
            )
            await store.append(
                [envelope(executed, tenant=t.tenant_id, aggregate_id=task_id)],
                expected_version=None,
            )
        runner = ProjectionRunner(nc, pool, BillingProjection())
        await runner.setup()
        await runner.catch_up()
        usage = (await c.get("/v1/usage")).json()
        assert usage["available"] is True and usage["period"] == period_of(datetime.now(UTC))
        meters = {m["meter"]: m["quantity"] for m in usage["meters"]}
        assert meters["actions"] == 3
        assert usage["budget"]["tenant_id"] == t.tenant_id
        invoices = (await c.get("/v1/invoices")).json()
        assert invoices["available"] is True
        [open_invoice] = invoices["data"]
        assert open_invoice["status"] == "open" and open_invoice["tenant_id"] == t.tenant_id
        assert (await c.get("/v1/usage", params={"period": "2026-13"})).status_code == 422

"""Saved sessions at the API: one task at a time per session (409), shown and deleted by
name, addressed within the tenant, with the plan's TTL on the task."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from macrohard.contracts import envelope
from macrohard.contracts.sessions import SESSION_AGGREGATE, SessionClaimed, SessionSaved
from macrohard.contracts.tasks import SealedSecret, TaskCancelled, TaskSubmitted
from macrohard.eventlog import EventStore
from macrohard.gateway import limits, routes_sessions
from tests.gateway.conftest import TASK, RunningGateway, onboard

CRM = {**TASK, "session": "crm"}


async def test_one_task_at_a_time_holds_a_session_even_when_submissions_race(
    gw: RunningGateway, store: EventStore
) -> None:
    acme, other = await onboard(gw), await onboard(gw, name="Other")
    async with gw.client(acme.api_key) as c, gw.client(other.api_key) as o:
        race = await asyncio.gather(*(c.post("/v1/tasks", json=CRM) for _ in range(5)))
        # The same name in another tenant is another session.
        elsewhere = await o.post("/v1/tasks", json=CRM)
        held = await c.get("/v1/sessions/crm")
        task_view = (await c.get(f"/v1/tasks/{_winner(race)}")).json()
        in_use = await c.delete("/v1/sessions/crm")
    codes = sorted(r.status_code for r in race)
    assert codes == [202, 409, 409, 409, 409], [r.text for r in race]
    winner = _winner(race)
    assert task_view["session"] == "crm"
    refused = next(r for r in race if r.status_code == 409)
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "in use" in refused.json()["detail"]
    assert elsewhere.status_code == 202, elsewhere.text
    view = held.json()
    assert (view["status"], view["task_id"], view["saved_by"]) == ("in_use", winner, None)
    assert in_use.status_code == 409
    # Only the winner's task was written, and it carries the team plan's TTL (7 days).
    tasks = await store.read_aggregate(acme.tenant_id, "task", winner)
    submitted = tasks[0].payload
    assert isinstance(submitted, TaskSubmitted)
    assert (submitted.session, submitted.session_ttl_s) == ("crm", 7 * 86400)
    claims = await store.read_aggregate(acme.tenant_id, SESSION_AGGREGATE, "crm")
    assert [r.payload for r in claims] == [SessionClaimed(name="crm", task_id=winner)]


async def until_listed(c: httpx.AsyncClient, status: str) -> list[dict[str, Any]]:
    """The list once the read model shows the session with `status` (it trails the log)."""
    listed: list[dict[str, Any]] = []
    for _ in range(100):
        listed = (await c.get("/v1/sessions")).json()["data"]
        if listed and listed[0]["status"] == status:
            return listed
        await asyncio.sleep(0.05)
    raise AssertionError(f"never listed as {status}: {listed}")


async def test_a_session_is_shown_without_its_state_and_deleted(
    gw: RunningGateway, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        missing = await c.get("/v1/sessions/crm")
        bad_name = await c.get("/v1/sessions/Not%20A%20Name")
        bad_task = await c.post("/v1/tasks", json={**TASK, "session": "../crm"})
        first = (await c.post("/v1/tasks", json=CRM)).json()["task_id"]
        # The actuator's end of the hold: the state, sealed (opaque here).
        sealed = SealedSecret(key_id="k1-x", nonce="bm9uY2U", ciphertext="c2VhbGVk")
        expires = datetime.now(UTC) + timedelta(days=7)
        saved = SessionSaved(name="crm", task_id=first, state=sealed, size_bytes=321,
                             expires_at=expires)  # fmt: skip
        await store.append(
            [envelope(saved, tenant=t.tenant_id, aggregate_id="crm")], expected_version=None
        )
        shown = (await c.get("/v1/sessions/crm")).json()
        second = await c.post("/v1/tasks", json=CRM)
        # A hold whose task ended without the actuator ending it stops blocking (after
        # STALE_HOLD_S; zero here).
        holder = second.json()["task_id"]
        ended = TaskCancelled(task_id=holder, steps=0, reason="cancel requested")
        await store.append(
            [envelope(ended, tenant=t.tenant_id, aggregate_id=holder)], expected_version=None
        )
        monkeypatch.setattr(routes_sessions, "STALE_HOLD_S", 0.0)
        free = (await c.get("/v1/sessions/crm")).json()
        listed = await until_listed(c, "saved")
        deleted = await c.delete("/v1/sessions/crm")
        after = (await c.get("/v1/sessions/crm")).json()
    assert missing.status_code == 404 and bad_name.status_code == 422
    assert bad_task.status_code == 422
    assert shown["status"] == "saved" and shown["saved_by"] == first
    assert shown["size_bytes"] == 321 and "state" not in shown and "c2VhbGVk" not in str(shown)
    assert second.status_code == 202, second.text
    assert free["status"] == "saved"
    assert [(v["name"], v["saved_by"], v["size_bytes"]) for v in listed] == [("crm", first, 321)]
    assert deleted.status_code == 204
    assert (after["status"], after["saved_by"], after["size_bytes"]) == ("empty", None, 0)


async def test_a_new_session_past_the_plan_s_count_is_refused(
    gw: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = await onboard(gw)
    team = limits.LIMITS["team"]
    monkeypatch.setitem(limits.LIMITS, "team", dataclasses.replace(team, max_sessions=1))
    async with gw.client(t.api_key) as c:
        first = await c.post("/v1/tasks", json={**TASK, "session": "one"})
        await until_listed(c, "in_use")
        second = await c.post("/v1/tasks", json={**TASK, "session": "two"})
    assert first.status_code == 202, first.text
    assert second.status_code == 403
    assert second.json()["detail"] == "the team plan allows 1 saved sessions"


def _winner(race: list[httpx.Response]) -> str:
    task_id: str = next(r for r in race if r.status_code == 202).json()["task_id"]
    return task_id


async def test_an_idempotent_retry_of_a_session_task_is_its_replay_not_a_conflict(
    gw: RunningGateway, store: EventStore
) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        headers = {"Idempotency-Key": "order-sync-1"}
        first = await c.post("/v1/tasks", json=CRM, headers=headers)
        again = await c.post("/v1/tasks", json=CRM, headers=headers)
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert first.json()["task_id"] == again.json()["task_id"]
    claims = await store.read_aggregate(t.tenant_id, SESSION_AGGREGATE, "crm")
    assert len(claims) == 1

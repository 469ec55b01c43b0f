"""Saved sessions: another tenant can never restore one, and the cookies never show.

A real actuator (Chromium) and a site that sets a session cookie and echoes back the cookie
it receives. Tenant acme signs in under session "crm" and saves it. Then:
- acme's next task under "crm" arrives signed in (the control: the test can fail);
- mallory's task under a session of the same name arrives with no cookie: sessions are
  addressed within a tenant, so hers is another aggregate, empty;
- mallory copies acme's sealed state into her own session (a forged SessionSaved in her
  aggregate, as a writer to her subjects could): it does not open with her key, her task
  starts clean, and what is logged names the failure, never the content;
- neither the cookie nor any part of the state is in the log in plaintext.
"""

from __future__ import annotations

import asyncio
import logging
import secrets as random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.browser import PageObserved
from macrohard.contracts.envelope import Event
from macrohard.contracts.sessions import SESSION_AGGREGATE, SessionClaimed, SessionSaved
from macrohard.contracts.tasks import TaskCompleted, TaskSubmitted
from macrohard.devkit.pages import LocalSite, PageReply, PageRequest
from macrohard.eventlog import EventStore
from tests.actuator.conftest import Running

COOKIE = "sid=" + random.token_hex(16)


def route(request: PageRequest) -> PageReply | None:
    if request.path == "/set":
        return PageReply(body="<title>in</title><p>signed in</p>",
                         headers={"Set-Cookie": f"{COOKIE}; Path=/; HttpOnly"})  # fmt: skip
    if request.path == "/whoami":
        got = request.headers.get("Cookie", "")
        shown = "signed in" if COOKIE in got else "no cookie"
        return PageReply(body=f"<title>who</title><p>{shown}</p>")
    return None


@pytest.fixture(scope="module")
def cookie_site() -> Iterator[LocalSite]:
    with LocalSite(route) as s:
        yield s


async def append(store: EventStore, tenant: str, aggregate_id: str, event: Event) -> str:
    env = envelope(event, tenant=tenant, aggregate_id=aggregate_id)
    await store.append([env], expected_version=None)
    return env.id


async def start(r: Running, tenant: str, task_id: str) -> None:
    """What the gateway writes for a task naming session "crm": the claim, then the task."""
    await append(r.store, tenant, "crm", SessionClaimed(name="crm", task_id=task_id))
    await append(r.store, tenant, task_id, TaskSubmitted(
        task_id=task_id, goal="test", start_url="http://127.0.0.1/", session="crm",
        session_ttl_s=3600,
    ))  # fmt: skip


async def visit(r: Running, tenant: str, task_id: str, url: str) -> str:
    """Navigate, then end the task; the page's text as the actuator observed it."""
    nav = IntentEmitted(task_id=task_id, step=0, intent=Intent(action="navigate", url=url))
    intent_id = await append(r.store, tenant, task_id, nav)
    observed = await _observed(r.store, tenant, task_id, intent_id)
    await append(r.store, tenant, task_id, IntentEmitted(
        task_id=task_id, step=1, intent=Intent(action="done")))  # fmt: skip
    await append(r.store, tenant, task_id, TaskCompleted(task_id=task_id, steps=1))
    return " ".join(e.text or e.name for e in observed.observation.elements)


async def _observed(store: EventStore, tenant: str, task_id: str, intent_id: str) -> PageObserved:
    for _ in range(400):
        for rec in await store.read_aggregate(tenant, "browser", task_id):
            p = rec.payload
            if isinstance(p, PageObserved) and p.intent_event_id == intent_id:
                return p
        await asyncio.sleep(0.05)
    raise AssertionError(f"no observation for {task_id}")


async def saved(store: EventStore, tenant: str, by: str) -> SessionSaved:
    for _ in range(200):
        for rec in await store.read_aggregate(tenant, SESSION_AGGREGATE, "crm"):
            if isinstance(rec.payload, SessionSaved) and rec.payload.task_id == by:
                return rec.payload
        await asyncio.sleep(0.05)
    raise AssertionError(f"{tenant}'s session was not saved by {by}")


async def test_another_tenant_can_never_restore_a_saved_session(
    actuator: Running, cookie_site: LocalSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for tenant in ("acme", "mallory"):
        await actuator.onboard(["127.0.0.1"], tenant=tenant)
    await start(actuator, "acme", "a1")
    assert "signed in" in await visit(actuator, "acme", "a1", cookie_site.url("/set"))
    stolen = await saved(actuator.store, "acme", "a1")

    # The control: the owner's next task under the session arrives signed in.
    await start(actuator, "acme", "a2")
    assert "signed in" in await visit(actuator, "acme", "a2", cookie_site.url("/whoami"))

    # The same name in another tenant is another session: empty.
    await start(actuator, "mallory", "m1")
    assert "no cookie" in await visit(actuator, "mallory", "m1", cookie_site.url("/whoami"))

    # Acme's sealed state forged into mallory's own session does not open with her key.
    await append(actuator.store, "mallory", "crm", SessionClaimed(name="crm", task_id="forge"))
    await append(actuator.store, "mallory", "crm", SessionSaved(
        name="crm", task_id="forge", state=stolen.state, size_bytes=stolen.size_bytes,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    ))  # fmt: skip
    await start(actuator, "mallory", "m2")
    assert "no cookie" in await visit(actuator, "mallory", "m2", cookie_site.url("/whoami"))
    assert any(r.getMessage() == "saved session not restored" for r in caplog.records)

    # Nowhere in plaintext: not in any event of either tenant, not in any log line.
    value = COOKIE.split("=", 1)[1]
    for tenant, aggregates in (("acme", ("a1", "a2")), ("mallory", ("m1", "m2"))):
        for kind in ("task", "browser"):
            for agg in aggregates:
                for rec in await actuator.store.read_aggregate(tenant, kind, agg):
                    assert value not in repr(rec.payload)
        for rec in await actuator.store.read_aggregate(tenant, SESSION_AGGREGATE, "crm"):
            assert value not in repr(rec.payload)
    assert not any(value in r.getMessage() or value in repr(r.__dict__) for r in caplog.records)

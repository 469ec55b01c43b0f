"""Saved sessions at the API: claimed for a task at submit, shown and deleted by name.

A task naming `session` claims it before its TaskSubmitted is written: SessionClaimed is
appended at the session aggregate's version, so of two submissions racing for one session
(through any number of gateway replicas) exactly one gets it; the other gets a 409 and
nothing of it is written (the tenant retries once the first task has ended). The actuator
ends the hold when the task ends (SessionSaved with the sealed browser state, or
SessionReleased). A hold whose task ended more than `STALE_HOLD_S` ago without either (an
actuator lost at that moment), or whose task was never written, no longer blocks the session.

What the API shows of a session is metadata only: never the state, not even sealed. The list
comes from the `gateway_sessions` read model; one session is read from its own aggregate.
A new session past the plan's count is a 403.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from litestar import delete, get
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath
from msgspec import Meta

from macrohard.contracts.envelope import Envelope, envelope
from macrohard.contracts.sessions import (
    SESSION_AGGREGATE,
    SESSION_NAME,
    SavedSession,
    SessionClaimed,
    SessionDeleted,
    SessionReleased,
    evolve_session,
)
from macrohard.contracts.tasks import TaskCancelled, TaskCompleted, TaskFailed
from macrohard.eventlog import ConcurrencyConflict, Loaded
from macrohard.gateway.context import GatewayContext
from macrohard.gateway.errors import COMMON, problems
from macrohard.gateway.limits import PlanLimitReached, limits_of, plan_of
from macrohard.gateway.routes_tenancy import AnyRequest, gw

SessionName = Annotated[str, Meta(pattern=SESSION_NAME.pattern)]
STALE_HOLD_S = 60.0
_ENDS = (TaskCompleted, TaskFailed, TaskCancelled)


class SessionView(msgspec.Struct, kw_only=True):
    name: str
    status: str  # "in_use" | "saved" | "expired" | "empty"
    task_id: str | None = None  # the task holding it now
    saved_by: str | None = None  # the task whose browser state is saved
    saved_at: datetime | None = None
    expires_at: datetime | None = None
    size_bytes: int = 0


class SessionInUse(HTTPException):
    status_code = 409


def _fold(s: SavedSession, env: Envelope) -> SavedSession:
    return evolve_session(s, env.payload, env.occurred_at)


async def load_session(ctx: GatewayContext, tenant: str, name: str) -> Loaded[SavedSession]:
    if not SESSION_NAME.match(name):
        raise ValidationException(
            detail=f"{name!r} is not a session name (a-z, 0-9, '_' and '-', at most 64)",
            extra=[{"key": "name", "message": "not a session name"}],
        )
    return await ctx.store.load(_fold, SavedSession(name=name), tenant, SESSION_AGGREGATE, name)


async def _held(ctx: GatewayContext, tenant: str, s: SavedSession, now: datetime) -> bool:
    """Whether the session is held by a task that still counts (see the module's note): a
    hold counts until its task ended `STALE_HOLD_S` ago, or, for a claim whose task was never
    written (the submission broke in between), until the claim is that old."""
    if not s.holder:
        return False
    stale = timedelta(seconds=STALE_HOLD_S)
    events = await ctx.store.read_aggregate(tenant, "task", s.holder)
    if not events:
        return s.claimed_at is None or now - s.claimed_at < stale
    ended = [r.envelope.occurred_at for r in events if isinstance(r.payload, _ENDS)]
    return not ended or now - ended[0] < stale


async def claim(ctx: GatewayContext, tenant: str, name: str, task_id: str) -> None:
    """Hold the session for `task_id` (before its TaskSubmitted); 409 when another holds it,
    403 when it would be a session past the plan's count."""
    loaded = await load_session(ctx, tenant, name)
    if loaded.state.holder == task_id:
        return  # an idempotent resubmission of the same task
    if loaded.state.holder == "" and loaded.state.state is None:  # new, or deleted
        plan = await plan_of(ctx, tenant)
        limit = limits_of(plan).max_sessions
        count = await ctx.pool.fetchval(
            "SELECT count(*) FROM gateway.sessions WHERE tenant_id = $1", tenant
        )
        if count >= limit:
            raise PlanLimitReached(plan, "saved sessions", limit)
    if await _held(ctx, tenant, loaded.state, datetime.now(UTC)):
        raise SessionInUse(detail=f"session {name!r} is in use by task {loaded.state.holder}")
    env = envelope(SessionClaimed(name=name, task_id=task_id), tenant=tenant, aggregate_id=name)
    try:
        await ctx.store.append([env], expected_version=loaded.version)
    except ConcurrencyConflict:
        raise SessionInUse(detail=f"session {name!r} is in use by another task") from None


async def unclaim(ctx: GatewayContext, tenant: str, name: str, task_id: str, why: str) -> None:
    """Give a claim back when its task could not be written."""
    event = SessionReleased(name=name, task_id=task_id, reason=why)
    env = envelope(event, tenant=tenant, aggregate_id=name)
    await ctx.store.append([env], expected_version=None)


def _view(s: SavedSession, now: datetime, held: bool) -> SessionView:
    if held:
        status = "in_use"
    elif not s.saved_by:  # nothing saved yet (or deleted)
        status = "empty"
    else:
        status = "expired" if s.expired(now) else "saved"
    return SessionView(
        name=s.name,
        status=status,
        task_id=s.holder if held else None,
        saved_by=s.saved_by or None,
        saved_at=s.saved_at,
        expires_at=s.expires_at,
        size_bytes=s.size_bytes,
    )


class SessionList(msgspec.Struct, kw_only=True):
    data: list[SessionView]


@get(
    "/v1/sessions",
    summary="The tenant's saved sessions (metadata only, never the browser state)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def list_sessions(request: AnyRequest) -> SessionList:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    rows = await ctx.pool.fetch(
        """SELECT name, holder, saved_by, saved_at, expires_at, size_bytes
           FROM gateway.sessions WHERE tenant_id = $1 ORDER BY name""",
        who.tenant_id,
    )
    now = datetime.now(UTC)
    views = []
    for r in rows:
        s = SavedSession(
            name=r["name"], holder=r["holder"], saved_by=r["saved_by"],
            saved_at=r["saved_at"], expires_at=r["expires_at"], size_bytes=r["size_bytes"],
        )  # fmt: skip
        # A hold is checked against its task as for one session (few are held at a time).
        views.append(_view(s, now, held=await _held(ctx, who.tenant_id, s, now)))
    return SessionList(data=views)


@get(
    "/v1/sessions/{name:str}",
    summary="A saved session: whether a task holds it, when its state was saved and expires",
    responses=problems(*COMMON, 404),
    security=[{"bearer": []}],
)
async def get_session(request: AnyRequest, name: FromPath[SessionName]) -> SessionView:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    loaded = await load_session(ctx, who.tenant_id, name)
    if loaded.version == 0:
        raise NotFoundException(detail=f"no session named {name!r}")
    now = datetime.now(UTC)
    return _view(loaded.state, now, await _held(ctx, who.tenant_id, loaded.state, now))


@delete(
    "/v1/sessions/{name:str}",
    status_code=204,
    summary="Delete a saved session's state (409 while a task holds it)",
    responses=problems(*COMMON, 404, 409),
    security=[{"bearer": []}],
)
async def delete_session(request: AnyRequest, name: FromPath[SessionName]) -> None:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    loaded = await load_session(ctx, who.tenant_id, name)
    if loaded.version == 0:
        raise NotFoundException(detail=f"no session named {name!r}")
    if await _held(ctx, who.tenant_id, loaded.state, datetime.now(UTC)):
        raise SessionInUse(detail=f"session {name!r} is in use by task {loaded.state.holder}")
    env = envelope(SessionDeleted(name=name), tenant=who.tenant_id, aggregate_id=name)
    try:
        await ctx.store.append([env], expected_version=loaded.version)
    except ConcurrencyConflict:
        raise SessionInUse(detail=f"session {name!r} was just claimed by a task") from None


ROUTES = [list_sessions, get_session, delete_session]

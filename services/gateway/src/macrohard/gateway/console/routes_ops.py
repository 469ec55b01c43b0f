"""The operator's console: the fleet, the log (tail, one event with its trace, a task's
replay), dead letters with retry, projection lag, tenants and their budgets.

Fleet rows come from `node_registry.queries`, money from `billing.queries`, the log from the
kernel's event index, and a retry goes through `eventlog.deadletter.retry_dead_letter`, the
function `mh dlq retry` calls.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from litestar import Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from nats.errors import NoRespondersError

from macrohard.billing import public as billing
from macrohard.eventlog.deadletter import RetryFailed, list_dead_letters, retry_dead_letter
from macrohard.eventlog.errors import EventNotFound
from macrohard.gateway.console.fleet import fleet_payload
from macrohard.gateway.console.routes_tasks import load_task, screenshot_response
from macrohard.gateway.console.trace import TraceRow, trace_rows
from macrohard.gateway.console.web import PREFIX, AnyRequest, checked_form, gateway, operator, page
from macrohard.gateway.context import token_ok
from macrohard.gateway.domain import TERMINAL
from macrohard.gateway.routes_tenancy import all_tenants
from macrohard.node_registry import public as fleet

OPS = f"{PREFIX}/ops"


@get(f"{PREFIX}/fleet", include_in_schema=False)
async def fleet_page(request: AnyRequest) -> Template:
    session = operator(request)
    return page(request, "fleet.html", session)


@get(f"{PREFIX}/fleet/data", include_in_schema=False)
async def fleet_data(request: AnyRequest) -> Response[bytes]:
    """Every car, compact and columnar, for the canvas to draw and the page to filter."""
    operator(request)
    now = datetime.now(UTC)
    async with gateway(request).pool.acquire() as conn:
        try:
            cars = await fleet.cars(conn, now)
        except asyncpg.UndefinedTableError:  # the registry has not started yet
            cars = []
        try:
            earnings = await billing.node_earnings(conn, billing.period_of(now))
        except asyncpg.UndefinedTableError:
            earnings = {}
    body = msgspec.json.encode(fleet_payload(cars, earnings))
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


_EVENT_COLUMNS = """seq, event_id::text AS event_id, type, tenant, aggregate_type, aggregate_id,
                   occurred_at, correlation_id, causation_id::text AS causation_id"""


async def _tail(request: AnyRequest, filters: dict[str, str]) -> list[TraceRow]:
    since = filters.get("since", "")
    minutes = int(since) if since.isdigit() else None
    rows = await gateway(request).pool.fetch(
        f"""SELECT {_EVENT_COLUMNS} FROM eventlog.event_index
            WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR aggregate_type = $2)
              AND ($3::text IS NULL OR type = $3)
              AND ($4::timestamptz IS NULL OR occurred_at >= $4)
            ORDER BY seq DESC LIMIT 200""",
        filters.get("tenant") or None,
        filters.get("aggregate") or None,
        filters.get("type") or None,
        datetime.now(UTC) - timedelta(minutes=minutes) if minutes is not None else None,
    )
    return [TraceRow.of(r) for r in rows]


def _filters(tenant: str, aggregate: str, type: str, since: str) -> dict[str, str]:
    # Tokens only: anything else could never match a subject token anyway.
    return {k: v for k, v in
            {"tenant": tenant, "aggregate": aggregate, "type": type, "since": since}.items()
            if v and token_ok(v)}  # fmt: skip


@get([f"{PREFIX}/log", f"{PREFIX}/log/rows"], include_in_schema=False)
async def log_page(
    request: AnyRequest,
    tenant: FromQuery[str] = "",
    aggregate: FromQuery[str] = "",
    type: FromQuery[str] = "",
    since: FromQuery[str] = "",
) -> Template:
    """The log's tail; `/rows` is the table body alone, which htmx polls for."""
    session = operator(request)
    filters = _filters(tenant, aggregate, type, since)
    rows = await _tail(request, filters)
    name = "log_rows.html" if request.url.path.endswith("/rows") else "log.html"
    return page(request, name, session, {"rows": rows, "filters": filters})


@get(f"{OPS}/events/{{seq:int}}", include_in_schema=False)
async def event(request: AnyRequest, seq: FromPath[int]) -> Template:
    """One event as stored, and the tree of everything its request caused."""
    session = operator(request)
    ctx = gateway(request)
    try:
        rec = await ctx.store.read_sequence(seq)
    except EventNotFound as exc:
        raise NotFoundException(detail=f"no event #{seq}") from exc
    rows = await ctx.pool.fetch(
        f"""SELECT {_EVENT_COLUMNS} FROM eventlog.event_index
            WHERE correlation_id = $1 ORDER BY seq LIMIT 2000""",
        rec.envelope.correlation_id,
    )
    body = msgspec.json.format(msgspec.json.encode(rec.envelope), indent=2).decode()
    trace = trace_rows([TraceRow.of(r) for r in rows])
    return page(request, "event.html", session, {"rec": rec, "body": body, "trace": trace})


@get(f"{OPS}/tasks/{{tenant_id:str}}/{{task_id:str}}", include_in_schema=False)
async def replay(request: AnyRequest, tenant_id: FromPath[str], task_id: FromPath[str]) -> Template:
    """A task's replay, step by step, for any tenant (what `mh task replay` prints)."""
    session = operator(request)
    if not token_ok(tenant_id):
        raise NotFoundException(detail=f"no tenant {tenant_id}")
    view, recording = await load_task(gateway(request), tenant_id, task_id)
    return page(request, "task.html", session, {
        "task": view, "recording": recording, "terminal": view.status in TERMINAL,
        "base": f"{OPS}/tasks/{tenant_id}/{task_id}", "tenant_id": tenant_id})  # fmt: skip


@get(f"{OPS}/tasks/{{tenant_id:str}}/{{task_id:str}}/screenshots/{{sha:str}}",
     include_in_schema=False)  # fmt: skip
async def replay_screenshot(
    request: AnyRequest, tenant_id: FromPath[str], task_id: FromPath[str], sha: FromPath[str]
) -> Response[bytes]:
    operator(request)
    if not token_ok(tenant_id):
        raise NotFoundException(detail=f"no tenant {tenant_id}")
    _, recording = await load_task(gateway(request), tenant_id, task_id)
    return screenshot_response(recording, sha)


async def _dlq_page(request: AnyRequest, outcome: dict[str, Any] | None = None) -> Template:
    session = operator(request)
    letters = await list_dead_letters(gateway(request).nc)
    return page(request, "dlq.html", session, {"letters": letters, "outcome": outcome})


@get(f"{OPS}/dlq", include_in_schema=False)
async def dlq(request: AnyRequest) -> Template:
    return await _dlq_page(request)


@post(f"{OPS}/dlq/{{dlq_seq:int}}/retry", include_in_schema=False, status_code=200)
async def dlq_retry(request: AnyRequest, dlq_seq: FromPath[int]) -> Template:
    """Run one dead letter through its consumer's handler again (as `mh dlq retry` does)."""
    session = operator(request)
    await checked_form(request, session)
    nc = gateway(request).nc
    letter = next((d for d in await list_dead_letters(nc) if d.dlq_sequence == dlq_seq), None)
    if letter is None:
        raise NotFoundException(detail=f"no dead letter #{dlq_seq}")
    outcome: dict[str, Any] = {"dlq_sequence": dlq_seq, "ok": True, "error": ""}
    try:
        await retry_dead_letter(nc, letter)
    except RetryFailed as exc:
        outcome.update(ok=False, error=exc.error)
    except NoRespondersError:
        outcome.update(ok=False, error=f"no running replica of {letter.consumer}")
    return await _dlq_page(request, outcome)


@get(f"{OPS}/projections", include_in_schema=False)
async def projections(request: AnyRequest) -> Template:
    session = operator(request)
    ctx = gateway(request)
    head = await ctx.store.stream_head()
    rows = await ctx.pool.fetch(
        "SELECT projection, position, updated_at FROM eventlog.checkpoints ORDER BY projection"
    )
    return page(request, "projections.html", session, {"head": head, "rows": rows})


@get(f"{OPS}/tenants", include_in_schema=False)
async def tenants(request: AnyRequest) -> Template:
    session = operator(request)
    ctx = gateway(request)
    listed = await all_tenants(ctx)
    month = billing.period_of(datetime.now(UTC))
    budgets: dict[str, billing.BudgetStatus] = {}
    async with ctx.pool.acquire() as conn:
        try:
            for t in listed.data:
                budgets[t.tenant_id] = await billing.budget(conn, t.tenant_id, month)
        except asyncpg.UndefinedTableError:
            budgets = {}
    return page(request, "tenants.html", session,
                {"tenants": listed.data, "budgets": budgets, "period": month})  # fmt: skip


ROUTES = [fleet_page, fleet_data, log_page, event, replay, replay_screenshot, dlq,
          dlq_retry, projections, tenants]  # fmt: skip

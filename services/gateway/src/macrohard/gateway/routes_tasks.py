"""Tasks: submit (idempotent), read, list (cursor, newest first), cancel; usage and invoices."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from litestar import Response, get, post
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from macrohard.billing import public as billing
from macrohard.contracts.envelope import Envelope, envelope, new_event_id
from macrohard.contracts.tasks import TaskCancelRequested, TaskSubmitted, totp_sealed_name
from macrohard.eventlog import ConcurrencyConflict, egress
from macrohard.gateway import routes_sessions as sessions
from macrohard.gateway.artifact_reads import task_files
from macrohard.gateway.context import GatewayContext, Principal, decode_view
from macrohard.gateway.domain import (
    TERMINAL,
    TaskView,
    domain_allowed,
    idempotency_outcome,
    idempotent_task_id,
    request_fingerprint,
)
from macrohard.gateway.errors import COMMON, problems
from macrohard.gateway.limits import limits_of, plan_of
from macrohard.gateway.models import InvoiceList, TaskAccepted, TaskIn, TaskList, UsageOut
from macrohard.gateway.routes_tenancy import AnyRequest, gw
from macrohard.gateway.secrets import fingerprint_key, seal_secret

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255, required=False),
]


def _accepted(task_id: str, status: str) -> Response[TaskAccepted]:
    body = TaskAccepted(task_id=task_id, status=status, events_url=f"/v1/tasks/{task_id}/events")
    return Response(body, status_code=202, headers={"Location": f"/v1/tasks/{task_id}"})


async def _replay(ctx: GatewayContext, tenant: str, task_id: str, fingerprint: str) -> str:
    """The key was used before: same body -> the same task, other body -> 422 (Stripe)."""
    found = await ctx.task_row(tenant, task_id)
    view: TaskView | None
    stored: str | None
    if found is not None:
        view, stored = found
    else:
        events = await ctx.store.read_aggregate(tenant, "task", task_id)
        first = events[0].payload if events else None
        stored = first.request_hash if isinstance(first, TaskSubmitted) else None
        view = (await ctx.task_from_log(tenant, task_id))[0]
    if idempotency_outcome(stored, fingerprint) == "mismatch" or view is None:
        raise ValidationException(
            detail="Idempotency-Key was used with another request body",
            extra=[{"key": "Idempotency-Key", "message": "reused with a different body"}],
        )
    return view.status


@post(
    "/v1/tasks",
    status_code=202,
    summary="Submit a task",
    responses=problems(*COMMON, 409),
    security=[{"bearer": []}],
)
async def submit_task(
    request: AnyRequest, data: JSONBody[TaskIn], idempotency_key: IdempotencyKey = None
) -> Response[TaskAccepted]:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    body = await request.body() if idempotency_key is not None else b""
    task_id, status = await submit(ctx, who, data, idempotency_key=idempotency_key, body=body)
    return _accepted(task_id, status)


async def submit(
    ctx: GatewayContext,
    who: Principal,
    data: TaskIn,
    *,
    idempotency_key: str | None = None,
    body: bytes = b"",
) -> tuple[str, str]:
    """Append the caller's TaskSubmitted: (task id, status). The API and the console both
    submit through here, so a task is checked, sealed and keyed the same way from either."""
    tenant = who.tenant_id
    check_task_urls(ctx, data.start_url, data.webhook_url, who.allowed_domains)
    if data.output_schema is not None:
        try:
            Draft202012Validator.check_schema(data.output_schema)
        except SchemaError as exc:
            raise ValidationException(
                detail=f"output_schema is not a JSON Schema: {exc.message}",
                extra=[{"key": "output_schema", "message": exc.message}],
            ) from exc
    files = await task_files(ctx, tenant, data.files)
    fingerprint: str | None = None
    if idempotency_key is None:
        task_id = new_event_id()
    else:
        key = fingerprint_key(ctx.settings.master_key, tenant)
        fingerprint = request_fingerprint(key, body)
        task_id = idempotent_task_id(tenant, idempotency_key)
    sealed = {
        name: seal_secret(ctx.settings.master_key, tenant, task_id, name, value)
        for name, value in data.secrets.items()
    }
    totp_seeds = {
        name: seal_secret(ctx.settings.master_key, tenant, task_id, totp_sealed_name(name), seed)
        for name, seed in data.totp.items()
    }
    event = TaskSubmitted(
        task_id=task_id,
        goal=data.goal,
        start_url=data.start_url,
        inputs=data.inputs,
        secrets=sealed,
        totp_seeds=totp_seeds,
        output_schema=data.output_schema,
        session=data.session,
        session_ttl_s=await _session_ttl(ctx, tenant) if data.session else 0,
        files=files,
        max_steps=data.max_steps,
        webhook_url=data.webhook_url,
        car_wait_s=data.car_wait_s,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
    )
    env = envelope(event, tenant=tenant, aggregate_id=task_id)
    # A retried idempotent request whose task exists claims nothing: it gets the replay.
    claims = data.session is not None and not (
        idempotency_key is not None and await ctx.store.aggregate_version(tenant, "task", task_id)
    )
    if claims:
        assert data.session is not None
        await sessions.claim(ctx, tenant, data.session, task_id)
    try:
        return await _append_submitted(ctx, env, tenant, task_id, idempotency_key, fingerprint)
    except Exception:
        if claims:
            assert data.session is not None
            await sessions.unclaim(ctx, tenant, data.session, task_id, "the task was not written")
        raise


async def _session_ttl(ctx: GatewayContext, tenant: str) -> int:
    return limits_of(await plan_of(ctx, tenant)).session_ttl_s


async def _append_submitted(
    ctx: GatewayContext,
    env: Envelope,
    tenant: str,
    task_id: str,
    idempotency_key: str | None,
    fingerprint: str | None,
) -> tuple[str, str]:
    if idempotency_key is None:
        await ctx.store.append([env], expected_version=0)
        return task_id, "submitted"
    # Claimed on every replica at once: a retry that reaches another replica while this
    # request is being stored is told to try again, as it would be here.
    if not await ctx.claims.claim(tenant, idempotency_key):
        raise HTTPException(
            status_code=409, detail="a request with this Idempotency-Key is in flight"
        )
    try:
        try:
            # Expected version 0: of two requests with one key, the log lets exactly one in.
            await ctx.store.append([env], expected_version=0)
        except ConcurrencyConflict:
            assert fingerprint is not None
            return task_id, await _replay(ctx, tenant, task_id, fingerprint)
        return task_id, "submitted"
    finally:
        await ctx.claims.release(tenant, idempotency_key)


def check_task_urls(
    ctx: GatewayContext,
    start_url: str,
    webhook_url: str | None,
    allowed_domains: tuple[str, ...],
    *,
    where: str = "",
) -> None:
    """Read both URLs as Chromium will (WHATWG) and refuse what the egress policy refuses.

    The start URL's host must be one of the tenant's domains (the actuator checks every
    address again); the webhook's literal address must be public (its name is resolved and
    pinned at delivery, where the same policy decides again).
    """
    try:
        start = egress.parse_url(start_url)
    except egress.EgressRefused as exc:
        raise _url_problem(where + "start_url", exc.reason) from None
    if not domain_allowed(start.host, allowed_domains):
        raise ValidationException(
            detail=f"{start.host} is not among the tenant's allowed domains",
            extra=[{"key": where + "start_url", "message": "domain not allowed for this tenant"}],
        )
    if webhook_url is None:
        return
    try:
        hook = egress.parse_url(webhook_url)
    except egress.EgressRefused as exc:
        raise _url_problem(where + "webhook_url", exc.reason) from None
    verdict = egress.check_target(hook, [], allow_loopback=ctx.allow_loopback_webhooks)
    if not verdict.allowed:
        raise _url_problem(where + "webhook_url", verdict.reason)


def _url_problem(key: str, reason: str) -> ValidationException:
    return ValidationException(detail=f"{key}: {reason}", extra=[{"key": key, "message": reason}])


@get(
    "/v1/tasks/{task_id:str}",
    summary="A task: status, every step, usage so far",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def get_task(request: AnyRequest, task_id: FromPath[str]) -> TaskView:
    _, _, view = await _own_task(request, task_id)
    return view


async def _own_task(request: AnyRequest, task_id: str) -> tuple[GatewayContext, str, TaskView]:
    """(context, tenant id, view) of the caller's task; 404 for anyone else's or none."""
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    view = await ctx.find_task(who.tenant_id, task_id)
    if view is None:
        raise NotFoundException(detail=f"no task {task_id}")
    return ctx, who.tenant_id, view


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def _parse_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        # A sequence is a positive bigint: anything longer could only overflow the query.
        if not text.startswith("s") or not text[1:].isdigit() or len(text) > 20:
            raise ValueError(text)
        seq = int(text[1:])
        if not 0 < seq < 2**63:
            raise ValueError(text)
        return seq
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationException(
            detail="invalid cursor", extra=[{"key": "cursor", "message": "not a cursor"}]
        ) from exc


@get(
    "/v1/tasks",
    summary="This tenant's tasks, newest first (cursor pagination)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def list_tasks(
    request: AnyRequest,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
    status: Annotated[
        str | None,
        QueryParameter(
            pattern=r"^(submitted|running|awaiting_approval|completed|failed|cancelled)$"
        ),
    ] = None,
) -> TaskList:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    return await task_page(ctx, who.tenant_id, limit=limit, cursor=cursor, status=status)


async def task_page(
    ctx: GatewayContext, tenant: str, *, limit: int, cursor: str | None, status: str | None
) -> TaskList:
    """One page of a tenant's tasks from the read model, newest first."""
    before = _parse_cursor(cursor) if cursor else 2**62
    rows = await ctx.pool.fetch(
        """SELECT submitted_seq, view::text AS view FROM gateway.tasks
           WHERE tenant_id = $1 AND submitted_seq < $2 AND ($3::text IS NULL OR status = $3)
           ORDER BY submitted_seq DESC LIMIT $4""",
        tenant,
        before,
        status,
        limit + 1,
    )
    page = rows[:limit]
    return TaskList(
        data=[decode_view(r["view"]) for r in page],
        next_cursor=_cursor(page[-1]["submitted_seq"]) if len(rows) > limit else None,
    )


@post(
    "/v1/tasks/{task_id:str}/cancel",
    status_code=202,
    summary="Ask for a task to be cancelled",
    responses=problems(*COMMON, 409),
    security=[{"bearer": []}],
)
async def cancel_task(request: AnyRequest, task_id: FromPath[str]) -> TaskView:
    ctx, tenant_id, view = await _own_task(request, task_id)
    return await request_cancel(ctx, tenant_id, view)


async def request_cancel(ctx: GatewayContext, tenant_id: str, view: TaskView) -> TaskView:
    """Append TaskCancelRequested for the caller's task; 409 once it has ended."""
    task_id = view.task_id
    if view.status in TERMINAL:
        raise HTTPException(status_code=409, detail=f"task {task_id} is already {view.status}")
    event = TaskCancelRequested(task_id=task_id, reason="requested via API")
    await ctx.store.append(
        [envelope(event, tenant=tenant_id, aggregate_id=task_id)], expected_version=None
    )
    view.cancel_requested = True
    return view


PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


@get(
    "/v1/usage",
    summary="Usage metered and rated by billing, with the month's budget",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def get_usage(request: AnyRequest, period: FromQuery[str | None] = None) -> UsageOut:
    """`period` is a UTC month, e.g. 2026-11 (default: the current one)."""
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    month = period or billing.period_of(datetime.now(UTC))
    if not PERIOD.fullmatch(month):
        raise ValidationException(detail="period must look like 2026-11", extra=[
            {"key": "period", "message": "expected YYYY-MM"}])  # fmt: skip
    async with ctx.pool.acquire() as conn:
        try:
            meters = await billing.usage(conn, who.tenant_id, month)
            budget = await billing.budget(conn, who.tenant_id, month)
        except asyncpg.UndefinedTableError:  # billing has not started on this platform yet
            return UsageOut(available=False, period=month)
    return UsageOut(available=True, period=month, meters=meters, budget=budget)


@get(
    "/v1/invoices",
    summary="Invoices from billing, oldest first (the running month's is open)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def list_invoices(request: AnyRequest) -> InvoiceList:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    async with ctx.pool.acquire() as conn:
        try:
            data = await billing.invoices(conn, who.tenant_id)
        except asyncpg.UndefinedTableError:
            return InvoiceList(available=False)
    return InvoiceList(available=True, data=data)


ROUTES: list[Any] = [submit_task, get_task, list_tasks, cancel_task, get_usage, list_invoices]

"""A tenant's account in the console: usage (chart over time), invoices with their lines, each
line's source events, one event of its own log, API keys.

Billing is read only through `billing.queries`; an event is shown only when its subject
names the signed-in tenant (the subject is the truth about whose event it is).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from macrohard.billing import public as billing
from macrohard.contracts.subjects import parse_subject
from macrohard.eventlog.errors import EventNotFound
from macrohard.gateway.console.web import (
    PREFIX,
    AnyRequest,
    checked_form,
    gateway,
    page,
    see_other,
    tenant,
)
from macrohard.gateway.routes_tenancy import issue_key_for, revoke_key_of, tenant_keys

PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _period(value: str | None) -> str:
    return value if value and PERIOD.fullmatch(value) else billing.period_of(datetime.now(UTC))


def usage_series(days: list[billing.DailyUsage], period: str) -> dict[str, Any]:
    """uPlot's columnar data: x = days (unix seconds), one quantity series per meter, and
    the month's first and last day so one day of usage is drawn within its month."""
    xs = sorted({d.day for d in days})
    meters = sorted({d.meter for d in days})
    index = {day: i for i, day in enumerate(xs)}
    series = {m: [0.0] * len(xs) for m in meters}
    for d in days:
        series[d.meter][index[d.day]] += float(d.quantity)
    stamps = [int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) for day in xs]
    first = datetime.strptime(period + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
    following = (first + timedelta(days=32)).replace(day=1)
    bounds = [int(first.timestamp()), int((following - timedelta(days=1)).timestamp())]
    return {"x": stamps, "meters": meters, "series": [series[m] for m in meters],
            "range": bounds}  # fmt: skip


@get(f"{PREFIX}/usage", include_in_schema=False)
async def usage(request: AnyRequest, period: FromQuery[str | None] = None) -> Template:
    who = await tenant(request)
    month = _period(period)
    async with gateway(request).pool.acquire() as conn:
        try:
            meters = await billing.usage(conn, who.tenant_id, month)
            budget = await billing.budget(conn, who.tenant_id, month)
            days = await billing.daily_usage(conn, who.tenant_id, month)
            invoices = await billing.invoices(conn, who.tenant_id)
        except asyncpg.UndefinedTableError:  # billing has not started on this platform
            meters, budget, days, invoices = [], None, [], []
    chart = msgspec.json.encode(usage_series(days, month)).decode()
    return page(request, "usage.html", who.session, {
        "period": month, "meters": meters, "budget": budget, "chart": chart,
        "invoices": invoices})  # fmt: skip


@get(f"{PREFIX}/invoices/{{period:str}}", include_in_schema=False)
async def invoice(request: AnyRequest, period: FromPath[str]) -> Template:
    who = await tenant(request)
    if not PERIOD.fullmatch(period):
        raise NotFoundException(detail=f"no invoice for {period}")
    async with gateway(request).pool.acquire() as conn:
        try:
            found = await billing.invoice(conn, who.tenant_id, period)
        except asyncpg.UndefinedTableError:
            found = None
    if found is None:
        raise NotFoundException(detail=f"no invoice for {period}")
    return page(request, "invoice.html", who.session, {"invoice": found})


@get(f"{PREFIX}/invoices/{{period:str}}/lines/{{meter:str}}/{{usage_period:str}}",
     include_in_schema=False)  # fmt: skip
async def invoice_line(
    request: AnyRequest, period: FromPath[str], meter: FromPath[str], usage_period: FromPath[str]
) -> Template:
    who = await tenant(request)
    if not (PERIOD.fullmatch(period) and PERIOD.fullmatch(usage_period)):
        raise NotFoundException(detail="no such invoice line")
    async with gateway(request).pool.acquire() as conn:
        sources = await billing.line_sources(conn, who.tenant_id, period, meter, usage_period)
    if not sources:
        raise NotFoundException(detail=f"no usage of {meter} from {usage_period} on {period}")
    return page(request, "invoice_line.html", who.session, {
        "period": period, "meter": meter, "usage_period": usage_period,
        "sources": sources})  # fmt: skip


@get(f"{PREFIX}/events/{{seq:int}}", include_in_schema=False)
async def event(request: AnyRequest, seq: FromPath[int]) -> Template:
    """One event of the tenant's own log, as stored."""
    who = await tenant(request)
    try:
        rec = await gateway(request).store.read_sequence(seq)
    except EventNotFound as exc:
        raise NotFoundException(detail=f"no event #{seq}") from exc
    if parse_subject(rec.subject)[0] != who.tenant_id:  # another's: indistinguishable
        raise NotFoundException(detail=f"no event #{seq}")
    body = msgspec.json.format(msgspec.json.encode(rec.envelope), indent=2).decode()
    return page(request, "event.html", who.session, {"rec": rec, "body": body, "trace": None})


@get(f"{PREFIX}/keys", include_in_schema=False)
async def api_keys(request: AnyRequest) -> Template:
    who = await tenant(request)
    listed = await tenant_keys(gateway(request), who.tenant_id)
    return page(request, "keys.html", who.session, {"keys": listed.data, "created": None})


@post(f"{PREFIX}/keys", include_in_schema=False)
async def create_key(request: AnyRequest) -> Template:
    who = await tenant(request)
    form = await checked_form(request, who.session)
    ctx = gateway(request)
    created = await issue_key_for(ctx, who.tenant_id, form.get("label", "")[:100])
    listed = await tenant_keys(ctx, who.tenant_id)
    # The key is shown once, on this response only.
    return page(request, "keys.html", who.session, {"keys": listed.data, "created": created})


@post(f"{PREFIX}/keys/{{key_id:str}}/revoke", include_in_schema=False, status_code=303)
async def revoke_key(request: AnyRequest, key_id: FromPath[str]) -> Redirect:
    who = await tenant(request)
    await checked_form(request, who.session)
    await revoke_key_of(gateway(request), who.tenant_id, key_id)
    return see_other(f"{PREFIX}/keys")


ROUTES = [usage, invoice, invoice_line, event, api_keys, create_key, revoke_key]

"""Schedules: a cron expression and a task template; the scheduler service runs each tick.

The gateway only appends what the tenant asks (ScheduleCreated, Paused, Resumed, Deleted)
and reads the scheduler's read model through `macrohard.scheduler.public`; one schedule is
read through from the log when the read model has not caught up (read your own writes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, post
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from macrohard.contracts.envelope import envelope, new_event_id
from macrohard.contracts.schedules import (
    ScheduleCreated,
    ScheduleDeleted,
    SchedulePaused,
    ScheduleResumed,
    TaskTemplate,
)
from macrohard.gateway.context import GatewayContext, token_ok
from macrohard.gateway.errors import COMMON, problems
from macrohard.gateway.limits import PlanLimitReached, limits_of, plan_of
from macrohard.gateway.models import NO_NUL, Name, SecretName, Url
from macrohard.gateway.routes_tasks import check_task_urls
from macrohard.gateway.routes_tenancy import AnyRequest, gw
from macrohard.scheduler import public as scheduler
from macrohard.scheduler.public import CronError, ScheduleRun, ScheduleView


class TemplateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A task as in POST /v1/tasks, without secrets (those are sealed to one task id)."""

    goal: Annotated[str, Meta(min_length=1, max_length=4000, pattern=NO_NUL)]
    start_url: Url
    inputs: dict[SecretName, Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]] = {}
    max_steps: Annotated[int, Meta(ge=1, le=200)] = 30
    webhook_url: Url | None = None


class ScheduleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    # Five fields, UTC: minute hour day-of-month month day-of-week.
    cron: Annotated[str, Meta(min_length=9, max_length=200, pattern=r"^[0-9*/,\- ]+$")]
    template: TemplateIn


class ScheduleList(msgspec.Struct, kw_only=True):
    data: list[ScheduleView]


class RunList(msgspec.Struct, kw_only=True):
    data: list[ScheduleRun]


def _now() -> datetime:
    return datetime.now(UTC)


@post(
    "/v1/schedules",
    status_code=201,
    summary="Create a schedule: a task from the template at every cron tick (UTC)",
    responses=problems(*COMMON, 403),
    security=[{"bearer": []}],
)
async def create_schedule(request: AnyRequest, data: JSONBody[ScheduleIn]) -> ScheduleView:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    try:
        scheduler.parse_cron(data.cron)
    except CronError as exc:
        raise ValidationException(
            detail=f"cron: {exc}", extra=[{"key": "cron", "message": str(exc)}]
        ) from exc
    check_task_urls(
        ctx,
        data.template.start_url,
        getattr(data.template, "webhook_url", None),
        who.allowed_domains,
        where="template.",
    )
    plan = await plan_of(ctx, who.tenant_id)
    limit = limits_of(plan).max_schedules
    if len(await scheduler.schedules(ctx.pool, who.tenant_id)) >= limit:
        raise PlanLimitReached(plan, "schedules", limit)
    schedule_id = "sch_" + new_event_id().replace("-", "")
    t = data.template
    template = TaskTemplate(goal=t.goal, start_url=t.start_url, inputs=t.inputs,
                            max_steps=t.max_steps, webhook_url=t.webhook_url)  # fmt: skip
    event = ScheduleCreated(
        schedule_id=schedule_id, name=data.name, cron=data.cron, template=template
    )
    await ctx.store.append(
        [envelope(event, tenant=who.tenant_id, aggregate_id=schedule_id)], expected_version=0
    )
    return await _found(ctx, who.tenant_id, schedule_id)


async def _found(ctx: GatewayContext, tenant: str, schedule_id: str) -> ScheduleView:
    view = None
    if token_ok(schedule_id):
        view = await scheduler.schedule_from_log(ctx.store, tenant, schedule_id, _now())
    if view is None or view.status == "deleted":
        raise NotFoundException(detail=f"no schedule {schedule_id}")
    return view


@get(
    "/v1/schedules",
    summary="This tenant's schedules (not deleted), oldest first, with their next ticks",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def list_schedules(request: AnyRequest) -> ScheduleList:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    return ScheduleList(data=await scheduler.schedules(ctx.pool, who.tenant_id, _now()))


@get(
    "/v1/schedules/{schedule_id:str}",
    summary="One schedule, with its next ticks",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def get_schedule(request: AnyRequest, schedule_id: FromPath[str]) -> ScheduleView:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    return await _found(ctx, who.tenant_id, schedule_id)


async def _change(request: AnyRequest, schedule_id: str, action: str) -> ScheduleView:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    view = await _found(ctx, who.tenant_id, schedule_id)
    event: SchedulePaused | ScheduleResumed | ScheduleDeleted
    if action == "pause":
        if view.status != "active":
            raise HTTPException(status_code=409, detail=f"schedule {schedule_id} is {view.status}")
        event = SchedulePaused(schedule_id=schedule_id)
    elif action == "resume":
        if view.status != "paused":
            raise HTTPException(status_code=409, detail=f"schedule {schedule_id} is {view.status}")
        event = ScheduleResumed(schedule_id=schedule_id)
    else:
        event = ScheduleDeleted(schedule_id=schedule_id)
    await ctx.store.append(
        [envelope(event, tenant=who.tenant_id, aggregate_id=schedule_id)], expected_version=None
    )
    if action == "delete":
        view.status = "deleted"
        view.next_ticks = []
        return view
    return await _found(ctx, who.tenant_id, schedule_id)


@post(
    "/v1/schedules/{schedule_id:str}/pause",
    status_code=200,
    summary="Pause a schedule: its ticks are skipped until it is resumed",
    responses=problems(*COMMON, 409),
    security=[{"bearer": []}],
)
async def pause_schedule(request: AnyRequest, schedule_id: FromPath[str]) -> ScheduleView:
    return await _change(request, schedule_id, "pause")


@post(
    "/v1/schedules/{schedule_id:str}/resume",
    status_code=200,
    summary="Resume a paused schedule from its next tick (skipped ticks do not run late)",
    responses=problems(*COMMON, 409),
    security=[{"bearer": []}],
)
async def resume_schedule(request: AnyRequest, schedule_id: FromPath[str]) -> ScheduleView:
    return await _change(request, schedule_id, "resume")


@delete(
    "/v1/schedules/{schedule_id:str}",
    status_code=200,
    summary="Delete a schedule (its runs stay in the history)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def delete_schedule(request: AnyRequest, schedule_id: FromPath[str]) -> ScheduleView:
    return await _change(request, schedule_id, "delete")


@get(
    "/v1/schedules/{schedule_id:str}/runs",
    summary="The schedule's runs (one task per tick), newest first",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def list_runs(request: AnyRequest, schedule_id: FromPath[str]) -> RunList:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    if not token_ok(schedule_id) or not await ctx.store.read_aggregate(
        who.tenant_id, "schedule", schedule_id
    ):
        raise NotFoundException(detail=f"no schedule {schedule_id}")
    return RunList(data=await scheduler.runs(ctx.pool, who.tenant_id, schedule_id))


ROUTES: list[Any] = [create_schedule, list_schedules, get_schedule, pause_schedule,
                     resume_schedule, delete_schedule, list_runs]  # fmt: skip

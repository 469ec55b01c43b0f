"""A tenant's tasks in the console: the list (live), submit, one task live and as a recording,
its screenshots, its events over SSE, cancel.

Everything is read and written through the functions the API uses (`find_task`,
`task_page`, `submit`, `request_cancel`, `events.task_events`), scoped by the signed-in
tenant, so another tenant's task is a 404 here exactly as it is through the API.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, ServerSentEvent, Template

from macrohard.actuator.public import ScreenshotStore
from macrohard.gateway.console.recording import Recording, record
from macrohard.gateway.console.web import (
    PREFIX,
    AnyRequest,
    checked_form,
    gateway,
    page,
    see_other,
    tenant,
)
from macrohard.gateway.context import GatewayContext, token_ok
from macrohard.gateway.domain import TERMINAL, TaskView, fold_task
from macrohard.gateway.events import task_events
from macrohard.gateway.models import TaskIn
from macrohard.gateway.routes_tasks import request_cancel, submit, task_page

STATUSES = ("submitted", "running", "completed", "failed", "cancelled")


async def load_task(
    ctx: GatewayContext, tenant_id: str, task_id: str
) -> tuple[TaskView, Recording]:
    """The task's view and recording, or 404 when the tenant has no such task.

    Both are folded from one read of the log (not the projection): a page refreshed on an
    SSE event must show at least that event, and the read model may not have applied it yet.
    The subject filters `ev.<tenant>.task.<id>.>` scope the read to the tenant.
    """
    if not token_ok(task_id):
        raise NotFoundException(detail=f"no task {task_id}")
    events = sorted(
        [
            *await ctx.store.read_aggregate(tenant_id, "task", task_id),
            *await ctx.store.read_aggregate(tenant_id, "browser", task_id),
        ],
        key=lambda r: r.sequence,
    )
    view = fold_task([r.envelope for r in events])
    if view is None:
        raise NotFoundException(detail=f"no task {task_id}")
    return view, record([(r.sequence, r.envelope) for r in events])


def screenshot_response(recording: Recording, sha: str) -> Response[bytes]:
    """A screenshot only if this task's own events name it: a hash alone opens nothing."""
    if sha not in recording.screenshots():
        raise NotFoundException(detail=f"no screenshot {sha} in this task")
    try:
        data = ScreenshotStore.from_env().get(sha)
    except FileNotFoundError as exc:
        raise NotFoundException(detail=f"screenshot {sha} is not in the store") from exc
    # Content-addressed: the bytes under a hash never change, so the browser may keep them.
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=31536000"}
    )


@get([f"{PREFIX}/tasks", f"{PREFIX}/tasks/rows"], include_in_schema=False)
async def tasks(request: AnyRequest, status: FromQuery[str | None] = None) -> Template:
    """The task list; `/rows` is the table body alone, which htmx polls for live status."""
    who = await tenant(request)
    wanted = status if status in STATUSES else None
    listed = await task_page(gateway(request), who.tenant_id, limit=50, cursor=None, status=wanted)
    name = "task_rows.html" if request.url.path.endswith("/rows") else "tasks.html"
    return page(request, name, who.session,
                {"tasks": listed.data, "status": wanted or "", "statuses": STATUSES})  # fmt: skip


def _pairs(text: str, field: str) -> dict[str, str]:
    """`name=value` lines (blank lines ignored) -> a dict; a line without `=` is a 422."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ValidationException(
                detail=f"{field}: line {number} is not name=value",
                extra=[{"key": field, "message": "expected name=value per line"}],
            )
        out[name.strip()] = value
    return out


@post(f"{PREFIX}/tasks", include_in_schema=False, status_code=303)
async def submit_task(request: AnyRequest) -> Redirect:
    who = await tenant(request)
    form = await checked_form(request, who.session)
    raw: dict[str, Any] = {
        "goal": form.get("goal", "").strip(),
        "start_url": form.get("start_url", "").strip(),
        "inputs": _pairs(form.get("inputs", ""), "inputs"),
        "secrets": _pairs(form.get("secrets", ""), "secrets"),
    }
    if form.get("webhook_url", "").strip():
        raw["webhook_url"] = form["webhook_url"].strip()
    if form.get("max_steps", "").strip():
        try:
            raw["max_steps"] = int(form["max_steps"])
        except ValueError as exc:
            raise ValidationException(detail="max_steps must be a whole number") from exc
    try:
        data = msgspec.convert(raw, TaskIn)
    except msgspec.ValidationError as exc:
        raise ValidationException(detail=str(exc)) from exc
    task_id, _ = await submit(gateway(request), who.principal, data)
    return see_other(f"{PREFIX}/tasks/{task_id}")


def _task_context(view: TaskView, recording: Recording, base: str) -> dict[str, Any]:
    return {
        "task": view,
        "recording": recording,
        "base": base,
        "terminal": view.status in TERMINAL,
    }


@get([f"{PREFIX}/tasks/{{task_id:str}}", f"{PREFIX}/tasks/{{task_id:str}}/body"],
     include_in_schema=False)  # fmt: skip
async def task(request: AnyRequest, task_id: FromPath[str]) -> Template:
    """A task; `/body` is its status and steps alone, which the page swaps in on each event."""
    who = await tenant(request)
    view, recording = await load_task(gateway(request), who.tenant_id, task_id)
    base = f"{PREFIX}/tasks/{task_id}"
    name = "task_body.html" if request.url.path.endswith("/body") else "task.html"
    return page(request, name, who.session, _task_context(view, recording, base))


@get(f"{PREFIX}/tasks/{{task_id:str}}/screenshots/{{sha:str}}", include_in_schema=False)
async def screenshot(
    request: AnyRequest, task_id: FromPath[str], sha: FromPath[str]
) -> Response[bytes]:
    who = await tenant(request)
    _, recording = await load_task(gateway(request), who.tenant_id, task_id)
    return screenshot_response(recording, sha)


@get(f"{PREFIX}/tasks/{{task_id:str}}/events", include_in_schema=False)
async def live(request: AnyRequest, task_id: FromPath[str]) -> ServerSentEvent:
    """The task's events as they are appended (the same stream as the API's SSE)."""
    who = await tenant(request)
    ctx = gateway(request)
    if not token_ok(task_id) or await ctx.find_task(who.tenant_id, task_id) is None:
        raise NotFoundException(detail=f"no task {task_id}")
    after = request.headers.get("Last-Event-ID", "0")
    return ServerSentEvent(
        task_events(ctx, who.tenant_id, task_id, int(after) if after.isdigit() else 0),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@post(f"{PREFIX}/tasks/{{task_id:str}}/cancel", include_in_schema=False, status_code=303)
async def cancel(request: AnyRequest, task_id: FromPath[str]) -> Redirect:
    who = await tenant(request)
    await checked_form(request, who.session)
    ctx = gateway(request)
    view = await ctx.find_task(who.tenant_id, task_id)
    if view is None:
        raise NotFoundException(detail=f"no task {task_id}")
    await request_cancel(ctx, who.tenant_id, view)
    return see_other(f"{PREFIX}/tasks/{task_id}")


ROUTES = [tasks, submit_task, task, screenshot, live, cancel]

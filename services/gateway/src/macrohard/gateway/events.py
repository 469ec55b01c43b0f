"""GET /v1/tasks/{id}/events: the task's events as Server-Sent Events, live and resumable.

The SSE `id` is the event's stream sequence, so `Last-Event-ID` (sent by every EventSource on
reconnect) is exactly where to resume: an ordered consumer on the task's two aggregates
(`ev.<tenant>.task.<id>.>` and `ev.<tenant>.browser.<id>.>`) starting at that sequence + 1
gives the backlog and then the live tail in one ordered stream, with no gap and no repeat.
The stream ends after the task's terminal event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import msgspec
from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy

from macrohard.contracts.subjects import EVENTS_STREAM, aggregate_filter
from macrohard.gateway.context import GatewayContext
from macrohard.gateway.domain import tenant_event
from macrohard.gateway.errors import COMMON, problems
from macrohard.gateway.routes_tenancy import AnyRequest, gw

TERMINAL_EVENTS = frozenset({"TaskCompleted", "TaskFailed", "TaskCancelled"})
KEEPALIVE_S = 15.0


async def task_events(
    ctx: GatewayContext, tenant: str, task_id: str, after: int
) -> AsyncIterator[ServerSentEventMessage]:
    js = ctx.nc.jetstream()
    config = ConsumerConfig(
        filter_subjects=[
            aggregate_filter(tenant, "task", task_id),
            aggregate_filter(tenant, "browser", task_id),
        ],
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=after + 1,
    )
    sub = await js.subscribe("", stream=EVENTS_STREAM, ordered_consumer=True, config=config)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=KEEPALIVE_S)
            except NatsTimeout:
                yield ServerSentEventMessage(comment="keepalive")
                continue
            event_type = msg.subject.rsplit(".", 1)[-1]
            # The tenant's own events, less what is the platform's business (which car,
            # its owner, leases, sealed secrets, internal addresses in errors).
            shown = tenant_event(msgspec.json.decode(msg.data))
            yield ServerSentEventMessage(
                data=msgspec.json.encode(shown).decode(),
                event=event_type,
                id=msg.metadata.sequence.stream,
            )
            if event_type in TERMINAL_EVENTS:
                return
    finally:
        await sub.unsubscribe()


@get(
    "/v1/tasks/{task_id:str}/events",
    summary="The task's events as Server-Sent Events (resume with Last-Event-ID)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
    media_type="text/event-stream",
)
async def stream_task_events(
    request: AnyRequest,
    task_id: FromPath[str],
    last_event_id: Annotated[
        int | None, HeaderParameter(name="Last-Event-ID", ge=0, le=2**62, required=False)
    ] = None,
) -> ServerSentEvent:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    if await ctx.find_task(who.tenant_id, task_id) is None:
        raise NotFoundException(detail=f"no task {task_id}")
    return ServerSentEvent(
        task_events(ctx, who.tenant_id, task_id, last_event_id or 0),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


ROUTES = [stream_task_events]

"""Approvals: the tenant's policy of steps that need a person, and answers to paused tasks.

A task that reaches a step the policy names pauses (status `awaiting_approval`, the step in
`pending_approval`; SSE and the webhook carry TaskNeedsApproval). The answer is appended at
the task's version read from the log, so of two answers to one pause exactly one counts.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post, put
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from macrohard.contracts.approvals import (
    ApprovalPolicy,
    ApprovalPolicySet,
    TaskApprovalDenied,
    TaskApproved,
)
from macrohard.contracts.envelope import envelope
from macrohard.eventlog import ConcurrencyConflict
from macrohard.gateway.domain import TaskView
from macrohard.gateway.errors import COMMON, problems
from macrohard.gateway.limits import PlanLimitReached, limits_of, plan_of
from macrohard.gateway.models import NO_NUL, Domain
from macrohard.gateway.routes_tasks import _own_task
from macrohard.gateway.routes_tenancy import AnyRequest, gw

Word = Annotated[str, Meta(min_length=1, max_length=50, pattern=NO_NUL)]


class ApprovalPolicyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # A click or key press on an element whose label has one of these words pauses the task.
    labels: Annotated[list[Word], Meta(max_length=500)] = []
    # When not empty, a navigation to a host outside these pauses the task.
    domains: Annotated[list[Domain], Meta(max_length=500)] = []


class ApprovalAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    step: Annotated[int, Meta(ge=0)]  # the step in pending_approval: answers that one only
    approve: bool
    note: Annotated[str, Meta(max_length=1000, pattern=NO_NUL)] = ""


@put(
    "/v1/approval-policy",
    summary="Set which steps of this tenant's tasks need a person (applies to new tasks)",
    responses=problems(*COMMON, 403),
    security=[{"bearer": []}],
)
async def set_policy(request: AnyRequest, data: JSONBody[ApprovalPolicyIn]) -> ApprovalPolicy:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    plan = await plan_of(ctx, who.tenant_id)
    limit = limits_of(plan).max_approval_rules
    if len(data.labels) + len(data.domains) > limit:
        raise PlanLimitReached(plan or "", "approval rules (labels plus domains)", limit)
    policy = ApprovalPolicy(labels=data.labels, domains=data.domains)
    event = ApprovalPolicySet(tenant_id=who.tenant_id, policy=policy)
    await ctx.store.append(
        [envelope(event, tenant=who.tenant_id, aggregate_id=who.tenant_id)],
        expected_version=None,
    )
    return policy


@get(
    "/v1/approval-policy",
    summary="This tenant's approval policy (empty: no step needs a person)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def get_policy(request: AnyRequest) -> ApprovalPolicy:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    events = await ctx.store.read_aggregate(who.tenant_id, "approvals", who.tenant_id)
    policies = [r.payload.policy for r in events if isinstance(r.payload, ApprovalPolicySet)]
    return policies[-1] if policies else ApprovalPolicy()


@post(
    "/v1/tasks/{task_id:str}/approval",
    status_code=202,
    summary="Answer a paused task: carry out the held step, or stop the task",
    responses=problems(*COMMON, 409),
    security=[{"bearer": []}],
)
async def answer_approval(
    request: AnyRequest, task_id: FromPath[str], data: JSONBody[ApprovalAnswer]
) -> TaskView:
    ctx, tenant, _ = await _own_task(request, task_id)
    # The log, not the read model: the answer must meet the pause it answers.
    view, version = await ctx.task_from_log(tenant, task_id)
    held = view.pending_approval if view is not None else None
    if view is None or view.status != "awaiting_approval" or held is None:
        status = view.status if view is not None else "unknown"
        raise HTTPException(status_code=409, detail=f"task {task_id} is {status}, not paused")
    if held.step != data.step:
        raise HTTPException(
            status_code=409, detail=f"task {task_id} holds step {held.step}, not {data.step}"
        )
    event = (
        TaskApproved(task_id=task_id, step=data.step, note=data.note)
        if data.approve
        else TaskApprovalDenied(task_id=task_id, step=data.step, reason=data.note)
    )
    try:
        await ctx.store.append(
            [envelope(event, tenant=tenant, aggregate_id=task_id)], expected_version=version
        )
    except ConcurrencyConflict as exc:
        raise HTTPException(
            status_code=409, detail=f"task {task_id} changed meanwhile; read it and retry"
        ) from exc
    if data.approve:
        view.status, view.pending_approval = "running", None
    return view


ROUTES: list[Any] = [set_policy, get_policy, answer_approval]

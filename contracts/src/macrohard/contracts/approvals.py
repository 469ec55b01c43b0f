"""Approvals: a tenant's policy naming steps that need a person, and the pause it causes.

The gateway appends the tenant's policy (`ApprovalPolicySet`, aggregate `approvals`, id =
the tenant). The planner copies the policy in force into the run's `TaskStarted`, so a run
replays with the rules it ran under. A step the policy names is not emitted: the task
pauses with `TaskNeedsApproval` (holding no car) until the tenant answers through the API
with `TaskApproved` (the step is emitted as decided) or `TaskApprovalDenied` (the run ends).
"""

from __future__ import annotations

import msgspec

from macrohard.contracts.agent import Intent
from macrohard.contracts.envelope import Event


class ApprovalPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """`labels`: a click or key press on an element whose label contains one of these words
    (whole words, any case) needs approval. `domains`: when not empty, a navigation to a
    host outside them (a domain allows its subdomains) needs approval."""

    labels: list[str] = []
    domains: list[str] = []


class ApprovalPolicySet(Event, frozen=True, kw_only=True):
    aggregate_type = "approvals"

    tenant_id: str
    policy: ApprovalPolicy


class TaskNeedsApproval(Event, frozen=True, kw_only=True):
    """The run paused before `step`: what it wants to do, where, and which rule said ask."""

    aggregate_type = "task"

    task_id: str
    step: int
    intent: Intent
    element_label: str = ""
    page_url: str = ""
    why: str = ""
    # How step - 1 went, carried to the IntentEmitted that follows an approval.
    previous_ok: bool | None = None
    previous_error: str = ""


class TaskApproved(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    step: int
    note: str = ""


class TaskApprovalDenied(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    step: int
    reason: str = ""


EVENTS: tuple[type[Event], ...] = (
    ApprovalPolicySet,
    TaskNeedsApproval,
    TaskApproved,
    TaskApprovalDenied,
)

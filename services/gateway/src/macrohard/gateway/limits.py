"""What each plan allows of the work features (schedules, approvals, saved sessions), checked
at the API.

Prices live in billing's plans; these are counts and sizes, refused with 403 before anything
is written, so a refusal loses nothing and costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar.exceptions import HTTPException

from macrohard.billing.public import DEFAULT_PLAN

if TYPE_CHECKING:
    from macrohard.gateway.context import GatewayContext


@dataclass(frozen=True, slots=True)
class WorkLimits:
    max_schedules: int  # schedules not deleted
    max_approval_rules: int  # labels plus domains in the approval policy
    session_ttl_s: int  # how long a saved session's browser state is kept after its task
    max_sessions: int  # saved sessions not deleted


_DAY = 86400
LIMITS: dict[str, WorkLimits] = {
    "payg": WorkLimits(max_schedules=5, max_approval_rules=20, session_ttl_s=_DAY, max_sessions=10),
    "team": WorkLimits(
        max_schedules=50, max_approval_rules=100, session_ttl_s=7 * _DAY, max_sessions=100
    ),
    "enterprise": WorkLimits(
        max_schedules=500, max_approval_rules=500, session_ttl_s=30 * _DAY, max_sessions=1000
    ),
}


def limits_of(plan: str) -> WorkLimits:
    return LIMITS.get(plan, LIMITS[DEFAULT_PLAN])


async def plan_of(ctx: GatewayContext, tenant: str) -> str:
    """The tenant's plan as the gateway's read model has it ('' when unknown)."""
    plan: str | None = await ctx.pool.fetchval(
        "SELECT plan FROM gateway.tenants WHERE tenant_id = $1", tenant
    )
    return plan or ""


class PlanLimitReached(HTTPException):
    status_code = 403

    def __init__(self, plan: str, what: str, limit: int) -> None:
        super().__init__(detail=f"the {plan} plan allows {limit} {what}")

"""What each plan allows of the work features (schedules, approvals, saved sessions), checked
at the API.

Prices live in billing's plans; these are counts and sizes, refused with 403 before anything
is written, so a refusal loses nothing and costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.exceptions import HTTPException

from macrohard.billing.public import DEFAULT_PLAN


@dataclass(frozen=True, slots=True)
class WorkLimits:
    max_schedules: int  # schedules not deleted
    max_approval_rules: int  # labels plus domains in the approval policy
    session_ttl_s: int  # how long a saved session's browser state is kept after its task


_DAY = 86400
LIMITS: dict[str, WorkLimits] = {
    "payg": WorkLimits(max_schedules=5, max_approval_rules=20, session_ttl_s=_DAY),
    "team": WorkLimits(max_schedules=50, max_approval_rules=100, session_ttl_s=7 * _DAY),
    "enterprise": WorkLimits(max_schedules=500, max_approval_rules=500, session_ttl_s=30 * _DAY),
}


def limits_of(plan: str) -> WorkLimits:
    return LIMITS.get(plan, LIMITS[DEFAULT_PLAN])


class PlanLimitReached(HTTPException):
    status_code = 403

    def __init__(self, plan: str, what: str, limit: int) -> None:
        super().__init__(detail=f"the {plan} plan allows {limit} {what}")

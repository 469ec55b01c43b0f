"""What each plan allows of the work features (schedules, approvals), checked at the API.

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


LIMITS: dict[str, WorkLimits] = {
    "payg": WorkLimits(max_schedules=5, max_approval_rules=20),
    "team": WorkLimits(max_schedules=50, max_approval_rules=100),
    "enterprise": WorkLimits(max_schedules=500, max_approval_rules=500),
}


def limits_of(plan: str) -> WorkLimits:
    return LIMITS.get(plan, LIMITS[DEFAULT_PLAN])


class PlanLimitReached(HTTPException):
    status_code = 403

    def __init__(self, plan: str, what: str, limit: int) -> None:
        super().__init__(detail=f"the {plan} plan allows {limit} {what}")

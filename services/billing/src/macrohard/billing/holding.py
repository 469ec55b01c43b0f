"""Held earnings: what a car caught lying forfeits, and what its tenants get back (pure).

A car's answers are provisional for a holding period: its owner's earnings for them are
not released and its tenants' charges for them stand only if the car is not caught lying
before the period ends. When the registry quarantines a car (it lost a verification
dispute), every answer it gave inside the holding period before the quarantine that no
other car checked is treated as suspect: its tenant is credited what it was charged, and
its owner forfeits what it earned. Answers a check agreed with stand, and so does their pay:
they were verified work. The credits become `AnswersCredited` events, one per (tenant,
period), which rating turns into a credit line and a negative payout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

# Long enough that a car lying on even 5% of its calls is caught before its answers are
# released, at the registry's verification shares (`mh fleet simulate --dishonest`).
HOLDING_PERIOD = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class HeldAnswer:
    """One answer (or several, summed) a car gave a tenant, as billing rated it."""

    tenant_id: str
    usage_period: str
    occurred_at: datetime
    amount: int  # what the tenant was charged, micro-units
    payout: int  # what the owner was paid for it
    verified: bool  # a check on another car agreed with it
    calls: int = 1
    call: str = ""  # "<task>:<step>:<model>", to trace it in the task's log


@dataclass(frozen=True, slots=True)
class Credit:
    """What one tenant gets back for one period's suspect answers of a quarantined car."""

    tenant_id: str
    usage_period: str
    calls: int
    amount: int  # credited to the tenant
    withheld: int  # forfeited by the owner
    answers: tuple[str, ...]  # the calls credited ("<task>:<step>:<model>")


def held(answered_at: datetime, now: datetime, hold: timedelta = HOLDING_PERIOD) -> bool:
    """Whether an answer is still inside its holding period at `now` (not released)."""
    return now < answered_at + hold


def forfeited(
    answer: HeldAnswer, quarantined_at: datetime, hold: timedelta = HOLDING_PERIOD
) -> bool:
    """An answer is forfeited when its car is quarantined while the answer is still held
    and no check ever agreed with it. Answers after the quarantine cannot exist (no lease)."""
    return not answer.verified and held(answer.occurred_at, quarantined_at, hold)


def forfeiture(
    answers: Iterable[HeldAnswer], quarantined_at: datetime, hold: timedelta = HOLDING_PERIOD
) -> list[Credit]:
    """The credits a quarantine at `quarantined_at` owes, per (tenant, period), in a stable
    order; none for a car whose every held answer was verified."""
    out: dict[tuple[str, str], tuple[int, int, int, list[str]]] = {}
    for a in answers:
        if not forfeited(a, quarantined_at, hold):
            continue
        calls, amount, withheld, names = out.get((a.tenant_id, a.usage_period), (0, 0, 0, []))
        if a.call:
            names.append(a.call)
        out[(a.tenant_id, a.usage_period)] = (
            calls + a.calls,
            amount + a.amount,
            withheld + a.payout,
            names,
        )
    return [
        Credit(tenant, period, calls, amount, withheld, tuple(sorted(set(names))))
        for (tenant, period), (calls, amount, withheld, names) in sorted(out.items())
        if calls
    ]

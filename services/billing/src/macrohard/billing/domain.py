"""Billing's pure decisions: which usage an event carries, periods, budgets, invoice lines.

No I/O here: the projection and the invoicer feed these functions rows and events, so every
rule is testable exhaustively without a server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from macrohard.billing.money import float_to_units, format_money
from macrohard.billing.plans import METER_UNITS
from macrohard.contracts.agent import InferenceCompleted, IntentEmitted
from macrohard.contracts.artifacts import ArtifactStored
from macrohard.contracts.billing import InvoiceLine, UsageRecorded
from macrohard.contracts.browser import ActionExecuted, PageObserved
from macrohard.contracts.envelope import Envelope

CORRECTION = "correction"
# Meters of verification calls (a second car re-executing a call to check it): the checking
# car's owner is paid, the tenant is not charged; "verification:compute:<model>", ...
VERIFICATION = "verification:"
# Answers of a car caught lying, credited back (`AnswersCredited`, see holding.py).
CREDIT = "credit"
DEFAULT_GRACE = timedelta(days=3)


# --- periods: calendar months in UTC, "YYYY-MM" ---------------------------------------


def period_of(moment: datetime) -> str:
    if moment.tzinfo is UTC:  # what the envelope decodes to: the hot path
        return f"{moment.year:04d}-{moment.month:02d}"
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def period_start(period: str) -> datetime:
    year, month = (int(p) for p in period.split("-"))
    return datetime(year, month, 1, tzinfo=UTC)


def next_period(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def period_end(period: str) -> datetime:
    return period_start(next_period(period))


def closes_at(period: str, grace: timedelta = DEFAULT_GRACE) -> datetime:
    """When a period's invoice is finalized: late usage until then lands in its draft."""
    return period_end(period) + grace


# --- metering: the usage an event carries ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """One meter reading taken from one event (an inference gives two: compute and energy)."""

    meter: str
    quantity: int
    node_id: str = ""
    owner_account: str = ""
    checks: str = ""  # a verification's checked car, whose work the check's cost is part of
    call: str = ""  # an inference's "<task>:<step>:<model>": its checks share it

    @property
    def verification(self) -> bool:
        return self.meter.startswith(VERIFICATION)


def usage_of(env: Envelope) -> list[Usage]:
    """The metered usage in an event; [] for an event that carries none."""
    p = env.payload
    if isinstance(p, ActionExecuted):
        return [Usage("actions", 1)]
    if isinstance(p, IntentEmitted):
        return [Usage("steps", 1)]
    if isinstance(p, PageObserved):
        return [Usage("screenshots", 1)] if p.observation.screenshot_sha256 else []
    if isinstance(p, InferenceCompleted):
        # A check is the platform's cost, not the tenant's usage: its own meters.
        kind = VERIFICATION if p.verification else ""
        call = f"{p.task_id}:{p.step}:{p.model}"
        out = [
            Usage(f"{kind}compute:{p.model}", float_to_units(p.compute_ms, 1000), p.node_id,
                  p.owner_account, p.checks, call)
        ]  # fmt: skip
        energy = float_to_units(p.energy_wh, 1_000_000)
        if energy:
            out.append(
                Usage(f"{kind}energy_uwh", energy, p.node_id, p.owner_account, p.checks, call)
            )
        return out
    if isinstance(p, UsageRecorded):
        return [Usage(p.meter, p.quantity)]
    if isinstance(p, ArtifactStored):
        # Bytes newly stored (the same bytes stored again add none): priced per stored GB.
        return [Usage("storage", p.stored_bytes)] if p.stored_bytes > 0 else []
    return []


def task_ms(started_at: datetime, ended_at: datetime) -> int:
    """Task time in whole milliseconds; a clock skew that puts the end first counts zero."""
    delta = ended_at - started_at
    return max(0, delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000)


def unit_of(meter: str) -> str:
    return METER_UNITS.get(meter.removeprefix(VERIFICATION).split(":", 1)[0], "unit")


# --- invoices: which invoice a usage record lands on --------------------------------------


def billed_period(usage_period: str, last_final: str | None) -> str:
    """Usage lands on its own period's invoice until that is finalized, then on the next
    open one (periods are finalized in order, so that is the one after the last final)."""
    if last_final is not None and usage_period <= last_final:
        return next_period(last_final)
    return usage_period


@dataclass(frozen=True, slots=True)
class LineGroup:
    """Usage records of one invoice summed by (meter, usage period)."""

    meter: str
    usage_period: str
    quantity: int
    amount: int
    description: str = ""


def invoice_lines(groups: Iterable[LineGroup]) -> tuple[list[InvoiceLine], int]:
    """Lines in a stable order (own period first, then carried-forward, corrections last)
    and the total in micro-units."""

    def order(g: LineGroup) -> tuple[int, str, str]:
        return (g.meter in (CORRECTION, CREDIT), g.usage_period, g.meter)

    lines: list[InvoiceLine] = []
    total = 0
    for g in sorted(groups, key=order):
        total += g.amount
        lines.append(
            InvoiceLine(
                meter=g.meter,
                usage_period=g.usage_period,
                quantity=g.quantity,
                unit=unit_of(g.meter) if g.meter != CORRECTION else "",
                amount=format_money(g.amount),
                description=g.description
                or ("answers of a car caught lying, credited" if g.meter == CREDIT else ""),
            )
        )
    return lines, total


# --- budgets ------------------------------------------------------------------------------


def cap_reached(spent: int, cap: int) -> bool:
    """A cap of 0 (or less) means no cap: a tenant onboarded without a budget is not stopped."""
    return cap > 0 and spent >= cap

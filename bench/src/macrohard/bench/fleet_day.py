"""A day of a large fleet, offline: `mh fleet simulate --nodes N --hours H --dishonest D`.

No servers: cars' days come from `node_agent.simulation` (commutes, errands, night charging),
and the work they serve is decided by the platform's own pure functions, imported, not
re-implemented: which calls are re-executed elsewhere (`verify_share` of the car's
`Reputation`, kept with the registry's `answered`/`checked`, drawn by the planner's
`sampled`), how answers are judged (`judge`, on real wire tensors), when a car is
quarantined (`quarantine_due`), what tenants are charged and owners paid (billing's
`Ledger`, the rating step of the projection, checks included), and what a quarantined car's
held answers cost it (billing's `forfeiture`, rated back as `AnswersCredited`).

What is vectorised or sampled, and why it does not change the figures asked for:
- Leases are placed by the registry's own index and `choose` (`fleet_placement.py`): a
  parked stretch that draws calls (Poisson at `calls_per_hour`) asks for one lease at a
  random moment of it, placement picks the car (measured latency, record, owners' terms),
  and the car serves the calls; checks go to cars placement chose for other leases.
- Honest cars never lose a dispute (their models are deterministic), so their calls need no
  per-call loop: how many of a car's first n calls are checked is read from real policy runs
  (`_checks_table`, the registry's share drawn call by call), and billed in bulk.
- Each dishonest car's calls are replayed one by one in its own order, through the real
  verification and reputation functions: its day, then the same daily volume for the rest
  of the holding period (until the day's first answers would be released), since a car
  caught by then forfeits the day's held answers. A checker that is itself dishonest lies
  with its own probability, and wrong answers differ from each other (no collusion), as on
  the road.
- Billing is fed one InferenceCompleted per (car, kind of work), checks first as the planner
  appends them: the payout of a car is cumulative per (tenant, month, car), so aggregating a
  car's calls changes it by rounding only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from macrohard.bench.fleet_placement import (
    MODEL,
    SAMPLE,
    TENANTS,
    LiarRun,
    PlacedDay,
    place_day,
)
from macrohard.billing.public import HOLDING_PERIOD, HeldAnswer, Ledger, forfeiture
from macrohard.contracts.agent import InferenceCompleted
from macrohard.contracts.billing import AnswersCredited
from macrohard.contracts.envelope import Event, RecordedEvent, envelope
from macrohard.contracts.tenancy import TenantOnboarded
from macrohard.node_registry.public import Reputation, answered, checked, verify_share
from macrohard.planner.public import sampled

MEAN_MS = float(np.exp(3.5 + 0.4**2 / 2))  # mean of the lognormal planner call (~35 ms)
DAY_START = datetime(2026, 10, 15, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DayFigures:
    nodes: int
    hours: float
    parked_share: float
    leases: int
    leases_refused: int
    leases_lost: int
    best_tier_share: float
    calls: int
    verification_share: float
    dishonest: int
    dishonest_served: int
    dishonest_lied: int
    detected_in_day_share: float
    dishonest_detected_share: float
    wrong_answers: int
    wrong_answers_billed: int
    overpaid_share: float
    revenue: int
    payouts: int
    credited: int
    withheld: int
    margin_share: float
    cars_without_margin: int
    hold_days: float
    wall_s: float


def _checks_table(max_calls: int, runs: int, seed: int) -> npt.NDArray[np.int64]:
    """checks[r, n]: how many of an honest car's first n calls the registry's policy had
    re-executed elsewhere, in `runs` independent runs (each call drawn by `sampled`)."""
    table = np.zeros((runs, max_calls + 1), np.int64)
    for r in range(runs):
        rep = Reputation()
        for k in range(max_calls):
            hit = sampled(verify_share(rep), "honest", seed, r, k, MODEL)
            answered(rep)
            if hit:
                checked(rep)
            table[r, k + 1] = table[r, k] + hit
    return table


def print_figures(f: DayFigures) -> None:
    """One `name value` line per figure, as `mh bench` prints them."""
    for name, value in (
        ("nodes", f.nodes), ("hours", f.hours), ("parked_share", f"{f.parked_share:.4f}"),
        ("leases", f.leases), ("leases_refused", f.leases_refused),
        ("leases_lost", f.leases_lost), ("best_tier_share", f"{f.best_tier_share:.4f}"),
        ("calls", f.calls),
        ("verification_share", f"{f.verification_share:.4f}"), ("dishonest", f.dishonest),
        ("dishonest_served", f.dishonest_served), ("dishonest_lied", f.dishonest_lied),
        ("hold_days", f"{f.hold_days:g}"),
        ("detected_in_day_share", f"{f.detected_in_day_share:.4f}"),
        ("dishonest_detected_share", f"{f.dishonest_detected_share:.4f}"),
        ("wrong_answers", f.wrong_answers), ("wrong_answers_billed", f.wrong_answers_billed),
        ("overpaid_share", f"{f.overpaid_share:.6f}"), ("revenue_micros", f.revenue),
        ("payouts_micros", f.payouts), ("credited_micros", f.credited),
        ("withheld_micros", f.withheld), ("margin_share", f"{f.margin_share:.4f}"),
        ("cars_without_margin", f.cars_without_margin), ("wall_s", f"{f.wall_s:.1f}"),
    ):  # fmt: skip
        print(f"{name} {value}")


class _Billing:
    """The day's work fed to billing's real rating step, as the log would carry it."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.seq = 0
        self.wrong: set[int] = set()  # sequences of the records of wrong answers
        self.rows: dict[int, list[list[object]]] = {}  # a liar's answer -> its records

    def feed(self, tenant: str, event: Event, *, wrong: bool = False, keep: bool = False) -> int:
        self.seq += 1
        env = envelope(event, tenant=tenant, aggregate_id=f"sim-{self.seq}", occurred_at=DAY_START)
        first = len(self.ledger.records)
        self.ledger.apply(RecordedEvent(sequence=self.seq, subject="", envelope=env))
        if wrong:
            self.wrong.add(self.seq)
        if keep:
            self.rows[self.seq] = self.ledger.records[first:]
        return self.seq

    def work(self, tenant: str, car: int, ms: float, *, checks: int = -1, wrong: bool = False,
             keep: bool = False) -> int:  # fmt: skip
        """One InferenceCompleted: car `car`'s answers, or (checks >= 0) a check of car
        `checks`'s answers done by car `car`."""
        return self.feed(tenant, InferenceCompleted(
            task_id=f"car-{car}" if checks < 0 else f"car-{checks}", step=1, model=MODEL,
            node_id=f"car-{car}", owner_account=f"owner-{car}", lease_id="sim",
            compute_ms=round(ms, 3), input_bytes=1, output_bytes=1,
            verification=checks >= 0, checks=f"car-{checks}" if checks >= 0 else "",
        ), wrong=wrong, keep=keep)  # fmt: skip

    def held(self, answers: dict[int, bool]) -> list[HeldAnswer]:
        """The rated records of a liar's answers (sequence -> verified), as billing holds
        them."""
        return [
            HeldAnswer(tenant_id=str(r[3]), usage_period=str(r[4]), occurred_at=DAY_START,
                       amount=int(r[7]), payout=int(r[12]), verified=verified)  # type: ignore[call-overload]
            for seq, verified in answers.items() for r in self.rows.pop(seq)
        ]  # fmt: skip


def simulate_day(
    nodes: int,
    hours: float = 24.0,
    dishonest: float = 0.05,
    *,
    calls_per_hour: float = 6.0,
    seed: int = 1,
    hold: timedelta = HOLDING_PERIOD,
    sample: int = SAMPLE,
) -> DayFigures:
    """Run the day and return its figures (see the module docstring for what is real)."""
    wall0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    # A dishonest car lies on a share of its calls, from rarely to often.
    lie_p = np.where(rng.random(nodes) < dishonest, rng.uniform(0.05, 0.5, nodes), 0.0)
    day = place_day(
        nodes, hours, lie_p, calls_per_hour=calls_per_hour, seed=seed, day_start=DAY_START,
        rng=rng, sample=sample,
    )  # fmt: skip
    calls, results = day.calls, day.liars
    # The day's answers stay held for `hold`: a liar not caught yet works on at the same
    # daily volume, its checks placed on the cars placement chose last.
    held_for = max(1.0, hold / timedelta(hours=hours)) if hours else 1.0
    checkers = [int(c) for c in day.checker[: min(nodes, 256)]]
    for run in results.values():
        if run.day_calls and not run.quarantined:
            more = int(run.day_calls * held_for) - run.day_calls
            run.serve(more, False, rng, checkers, lie_p)
    served = [c for c in results if calls[c] > 0]
    lied = [c for c in served if results[c].wrong > 0]
    detected = sum(results[c].quarantined for c in lied)
    in_day = sum(results[c].in_day for c in lied)

    runs = 64
    table = _checks_table(int(calls.max(initial=0)), runs, seed)
    billing = _Billing()
    for tenant, plan in TENANTS:
        billing.feed(tenant, TenantOnboarded(
            tenant_id=tenant, name=tenant, plan=plan, allowed_domains=[], monthly_budget="0",
        ))  # fmt: skip
    checks_total = 0
    for car in range(nodes):
        tenant = TENANTS[car % len(TENANTS)][0]
        liar = results.get(car)
        checker = int(day.checker[car])  # where placement put this car's checks
        if liar is None:
            n = int(calls[car])
            if n == 0:
                continue
            checks = int(table[car % runs, n])
            checks_total += checks
            if checks:  # checks first, as the planner appends them
                billing.work(tenant, checker, checks * MEAN_MS, checks=car)
            billing.work(tenant, car, n * MEAN_MS)
            continue
        checks_total += liar.verified
        answers: dict[int, bool] = {}
        if liar.verified:
            billing.work(tenant, checker, liar.verified_ms, checks=car)
            answers[billing.work(tenant, car, liar.verified_ms, keep=True)] = True
        if liar.right:
            answers[billing.work(tenant, car, liar.right_ms, keep=True)] = False
        if liar.wrong_unchecked:
            answers[billing.work(tenant, car, liar.wrong_ms, wrong=True, keep=True)] = False
        if liar.quarantined:  # caught while the day's answers were held: forfeited
            for credit in forfeiture(billing.held(answers), DAY_START, hold):
                billing.feed(credit.tenant_id, AnswersCredited(
                    tenant_id=credit.tenant_id, period=credit.usage_period,
                    node_id=f"car-{car}", owner_account=f"owner-{car}", calls=credit.calls,
                    amount=f"{credit.amount / 1e6:.6f}", withheld=f"{credit.withheld / 1e6:.6f}",
                    quarantine_event_id=f"sim-quarantine-{car}",
                ))  # fmt: skip
    return _figures(
        billing, results, nodes=nodes, hours=hours, day=day, calls=int(calls.sum()),
        checks=checks_total, dishonest=len(results), served=len(served), lied=len(lied),
        detected=detected, in_day=in_day, hold=hold, wall0=wall0,
    )  # fmt: skip


def _figures(
    billing: _Billing, results: dict[int, LiarRun], *, nodes: int, hours: float,
    day: PlacedDay, calls: int, checks: int, dishonest: int, served: int,
    lied: int, detected: int, in_day: int, hold: timedelta, wall0: float,
) -> DayFigures:  # fmt: skip
    revenue = payouts = credited = withheld = overpaid = 0
    margin: dict[str, int] = {}  # per car: its answers' revenue less their pay and checks
    # Cars whose held answers were credited: caught before the day's answers were released.
    credited_cars = {str(r[9]) for r in billing.ledger.records if r[1] == "credit"}
    for r in billing.ledger.records:
        amount, payout, seq = int(r[7]), int(r[12]), int(r[2])  # type: ignore[call-overload]
        car = str(r[13]) or str(r[9])  # a check is its checked car's cost
        revenue += amount
        payouts += payout
        margin[car] = margin.get(car, 0) + amount - payout
        if r[1] == "credit":
            credited -= amount
            withheld -= payout
        elif seq in billing.wrong and car not in credited_cars:
            # Paid for a wrong answer and never withheld (a caught car's credit withholds
            # every unverified answer of the day, its wrong ones included).
            overpaid += payout
    # A wrong answer stays billed unless a check caught it or its car's credit took it back.
    not_caught = [r for c, r in results.items() if f"car-{c}" not in credited_cars]
    return DayFigures(
        nodes=nodes, hours=hours, parked_share=day.parked_share, leases=day.leases,
        leases_refused=day.refused, leases_lost=day.lost,
        best_tier_share=max(day.by_tier) / day.leases if day.leases else 0.0, calls=calls,
        verification_share=checks / calls if calls else 0.0, dishonest=dishonest,
        dishonest_served=served, dishonest_lied=lied,
        detected_in_day_share=in_day / lied if lied else 1.0,
        dishonest_detected_share=detected / lied if lied else 1.0,
        wrong_answers=sum(r.wrong for r in results.values()),
        wrong_answers_billed=sum(r.wrong_unchecked for r in not_caught),
        overpaid_share=overpaid / payouts if payouts else 0.0,
        revenue=revenue, payouts=payouts, credited=credited, withheld=withheld,
        margin_share=(revenue - payouts) / revenue if revenue else 0.0,
        cars_without_margin=sum(1 for v in margin.values() if v < 0),
        hold_days=hold / timedelta(days=1), wall_s=time.perf_counter() - wall0,
    )  # fmt: skip

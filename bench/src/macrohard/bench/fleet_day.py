"""A day of a large fleet, offline: `mh fleet simulate --nodes N --hours H --dishonest D`.

No servers: cars' days come from `node_agent.simulation` (commutes, errands, night charging),
and the work they serve is decided by the platform's own pure functions, imported, not
re-implemented: which calls are re-executed elsewhere (`verify_share` of the car's
`Reputation`, drawn by the planner's `sampled`), how answers are judged (`judge`, on real
wire tensors), when a car is quarantined (`quarantine_due`), and what tenants are charged
and owners paid (billing's `Ledger`, the rating step of the projection).

What is vectorised or sampled, and why it does not change the figures asked for:
- Calls are drawn per parked stretch (Poisson at `calls_per_hour`); a stretch with calls is
  one lease. Placement's choice among parked cars is uniform here: the figures are about
  verification, and every parked honest car answers alike.
- Honest cars never lose a dispute (their models are deterministic), so their calls need no
  per-call loop: they are counted in bulk. Each dishonest car's calls are replayed one by
  one in its own order, through the real verification and reputation functions.
- Verifiers are drawn from the whole fleet: one that is itself dishonest lies with its own
  probability, and wrong answers differ from each other (no collusion), as on the road.
- Billing is fed one InferenceCompleted per (car, kind of work): the payout of a car is
  cumulative per (tenant, month, car), so aggregating a car's calls changes it by rounding
  only.
Holding period: a car quarantined before the day's payouts are released has its unreleased
earnings withheld and its answers traced; its tenants are not billed for them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from macrohard.billing.public import Ledger
from macrohard.contracts.agent import InferenceCompleted
from macrohard.contracts.envelope import Event, RecordedEvent, envelope
from macrohard.contracts.fleet import WireTensor
from macrohard.contracts.tenancy import TenantOnboarded
from macrohard.node_agent.public import simulation as sim
from macrohard.node_registry.public import Reputation, quarantine_due, verify_share
from macrohard.planner.public import judge, sampled

MODEL = "planner"
TENANTS = (("acme", "payg"), ("globex", "team"), ("initech", "enterprise"))
RIGHT = [WireTensor(name="intent", datatype="BYTES", shape=[1], items=[b"click #7"])]


def _wrong(car: int, call: int) -> list[WireTensor]:
    """A lie: each differs from every other, so liars never outvote the truth together."""
    return [WireTensor(name="intent", datatype="BYTES", shape=[1], items=[b"%d/%d" % (car, call)])]


@dataclass(frozen=True, slots=True)
class DayFigures:
    nodes: int
    hours: float
    parked_share: float
    leases: int
    calls: int
    dishonest: int
    dishonest_served: int
    dishonest_detected_share: float
    wrong_answers: int
    wrong_answers_billed: int
    overpaid_share: float
    revenue: int
    payouts: int
    wall_s: float


@dataclass(slots=True)
class _Liar:
    """What one dishonest car's calls came to."""

    quarantined: bool = False
    right_ms: float = 0.0  # answers used or checks that agreed: billed, paid
    wrong_ms: float = 0.0  # wrong answers that went unchecked: billed, paid unless caught
    wrong: int = 0
    wrong_unchecked: int = 0


def _answer(liar_p: float, rng: np.random.Generator, car: int, call: int) -> list[WireTensor]:
    return _wrong(car, call) if liar_p > 0 and rng.random() < liar_p else RIGHT


def _replay_liar(
    car: int, calls: int, p: float, rng: np.random.Generator, verifier_p: npt.NDArray[np.float64]
) -> _Liar:
    """A dishonest car's calls in order, verified and judged as the planner and registry do."""
    rep = Reputation()
    out = _Liar()
    for k in range(calls):
        ms = float(rng.lognormal(3.5, 0.4))  # ~35 ms a planner call
        first = _answer(p, rng, car, k)
        lied = first is not RIGHT
        out.wrong += lied
        if not sampled(verify_share(rep), "sim", car, k, MODEL):
            rep.calls += 1
            if lied:
                out.wrong_ms += ms
                out.wrong_unchecked += 1
            else:
                out.right_ms += ms
            continue
        answers = [first]
        for j in (1, 2):  # a second car; a third only when the first two disagree
            verifier = int(rng.integers(len(verifier_p)))
            answers.append(_answer(float(verifier_p[verifier]), rng, verifier, -k - j))
            verdict = judge(answers)
            if verdict.decided:
                break
        rep.calls += 1
        if not verdict.decided:
            continue  # no two agreed: the call failed, nobody is billed or blamed
        if 0 in verdict.wrong:
            rep.disputes_lost += 1
            if quarantine_due(rep):
                out.quarantined = True
                return out
        else:
            rep.verified += 1
            out.right_ms += ms
    return out


def _stretches(
    nodes: int, hours: float, seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], float]:
    """Parked stretches (car index, seconds) of every car over the horizon, and the fleet's
    parked share."""
    horizon = hours * sim.HOUR
    days = int(hours // 24) + 1
    owner: list[int] = []
    length: list[float] = []
    parked = 0.0
    for car in range(nodes):
        trips = sim.car_trips(seed * 1_000_003 + car, days)
        parked += sim.parked_fraction(trips, horizon)
        start = 0.0
        for t in trips:
            if t.depart_s >= horizon:
                break
            if t.depart_s > start:
                owner.append(car)
                length.append(t.depart_s - start)
            start = t.arrive_s
        if start < horizon:
            owner.append(car)
            length.append(horizon - start)
    return np.array(owner, np.int64), np.array(length), parked / nodes


def print_figures(f: DayFigures) -> None:
    """One `name value` line per figure, as `mh bench` prints them."""
    for name, value in (
        ("nodes", f.nodes), ("hours", f.hours), ("parked_share", f"{f.parked_share:.4f}"),
        ("leases", f.leases), ("calls", f.calls), ("dishonest", f.dishonest),
        ("dishonest_served", f.dishonest_served),
        ("dishonest_detected_share", f"{f.dishonest_detected_share:.4f}"),
        ("wrong_answers", f.wrong_answers), ("wrong_answers_billed", f.wrong_answers_billed),
        ("overpaid_share", f"{f.overpaid_share:.6f}"), ("revenue_micros", f.revenue),
        ("payouts_micros", f.payouts), ("wall_s", f"{f.wall_s:.1f}"),
    ):  # fmt: skip
        print(f"{name} {value}")


def simulate_day(
    nodes: int,
    hours: float = 24.0,
    dishonest: float = 0.05,
    *,
    calls_per_hour: float = 6.0,
    seed: int = 1,
) -> DayFigures:
    """Run the day and return its figures (see the module docstring for what is real)."""
    wall0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    owner, length, parked_share = _stretches(nodes, hours, seed)
    per_stretch = rng.poisson(length / sim.HOUR * calls_per_hour)
    leases = int(np.count_nonzero(per_stretch))
    calls = np.bincount(owner, weights=per_stretch, minlength=nodes).astype(np.int64)
    # A dishonest car lies on a share of its calls, from rarely to often.
    lie_p = np.where(rng.random(nodes) < dishonest, rng.uniform(0.05, 0.5, nodes), 0.0)
    liars = np.flatnonzero(lie_p)
    results = {int(c): _replay_liar(int(c), int(calls[c]), float(lie_p[c]), rng, lie_p)
               for c in liars}  # fmt: skip
    served = [c for c in results if calls[c] > 0]
    detected = sum(results[c].quarantined for c in served)

    # Billing: honest cars' work in bulk (their compute at the mean call), liars' per kind.
    honest_ms = calls * float(np.exp(3.5 + 0.4**2 / 2))
    at = datetime(2026, 10, 15, 12, tzinfo=UTC)
    ledger = Ledger()
    seq = 0

    def feed(tenant: str, event: Event) -> None:
        nonlocal seq
        seq += 1
        env = envelope(event, tenant=tenant, aggregate_id=f"sim-{seq}", occurred_at=at)
        ledger.apply(RecordedEvent(sequence=seq, subject="", envelope=env))

    for tenant, plan in TENANTS:
        feed(
            tenant,
            TenantOnboarded(
                tenant_id=tenant, name=tenant, plan=plan, allowed_domains=[], monthly_budget="0"
            ),
        )
    wrong_kind: set[int] = set()  # sequences of events that carry wrong answers
    for car in range(nodes):
        tenant = TENANTS[car % len(TENANTS)][0]
        liar = results.get(car)
        if liar is not None and liar.quarantined:
            continue  # withheld and traced: nothing billed, nothing released
        work = [(honest_ms[car], False)] if liar is None else [
            (liar.right_ms, False), (liar.wrong_ms, True)]  # fmt: skip
        for ms, wrong in work:
            if ms <= 0:
                continue
            feed(tenant, InferenceCompleted(
                task_id=f"car-{car}", step=1, model=MODEL, node_id=f"car-{car}",
                owner_account=f"owner-{car}", lease_id="sim", compute_ms=round(ms, 3),
                input_bytes=1, output_bytes=1,
            ))  # fmt: skip
            if wrong:
                wrong_kind.add(seq)
    revenue = payouts = overpaid = 0
    for r in ledger.records:
        amount, payout, s = int(r[7]), int(r[12]), int(r[2])  # type: ignore[call-overload]
        revenue += amount
        payouts += payout
        overpaid += payout if s in wrong_kind else 0
    not_caught = [r for r in results.values() if not r.quarantined]
    return DayFigures(
        nodes=nodes, hours=hours, parked_share=parked_share, leases=leases,
        calls=int(calls.sum()), dishonest=len(liars), dishonest_served=len(served),
        dishonest_detected_share=detected / len(served) if served else 1.0,
        wrong_answers=sum(r.wrong for r in results.values()),
        wrong_answers_billed=sum(r.wrong_unchecked for r in not_caught),
        overpaid_share=overpaid / payouts if payouts else 0.0,
        revenue=revenue, payouts=payouts, wall_s=time.perf_counter() - wall0,
    )  # fmt: skip

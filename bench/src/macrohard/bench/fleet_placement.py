"""The day's work placed as the registry places it: `mh fleet simulate --dishonest` drives
every lease through the registry's own placement index and `choose` (node_registry.public).

Cars park and unpark by `node_agent.simulation` (commutes, errands, night charging); a
parked car is in the index (`put`, with what the platform measured of it: latency, and its
record as `placement_factor`) while its owner's terms allow (charge at or above the owner's
minimum, charging up to it if it arrived below; the owner's hours are checked by `choose`
itself) and is dropped when it leaves or is quarantined. Tenants' leases arrive while the
fleet is parked (one per parked stretch that would draw calls: demand follows the parked
fleet) and each is placed by `choose` on a sample of the best quality tier; the lease
holds the car for its calls (`CALL_S` each) and is lost if the car drives off first (its
record, hence its tier, falls). A lease on a dishonest car is replayed call by call through
verification at once (`LiarRun`): a car caught is quarantined and leaves the index; the
cars that check its answers are the cars placement has just chosen for other leases.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from macrohard.contracts.fleet import WireTensor
from macrohard.node_agent.public import simulation as sim
from macrohard.node_registry.public import (
    Candidate,
    Choice,
    OwnerPreferences,
    PlacementIndex,
    Reputation,
    answered,
    checked,
    choose,
    placement_factor,
    quarantine_due,
    verify_share,
)
from macrohard.planner.public import judge, sampled

MODEL = "planner"
MODELS = frozenset({MODEL})
TENANTS = (("acme", "payg"), ("globex", "team"), ("initech", "enterprise"))
RIGHT = [WireTensor(name="intent", datatype="BYTES", shape=[1], items=[b"click #7"])]
CALL_S = 30.0  # a lease holds its car this long per call
MAX_LEASES = 2  # leases a car takes at once
# The placement sample per lease. The registry scores 32 (`placement.SAMPLE`); the day's
# ~3M leases at 32 would not finish on the development machine, and a smaller sample only
# spreads work more evenly over the best tier (see docs/fleet-scale.md).
SAMPLE = 4
RECENT = 256  # recently placed cars, from which checks are placed
OWNER_MIN_SHARE, OWNER_MIN = 0.2, 0.5  # owners who lend only above half a battery
NIGHT_SHARE = 0.1  # owners who lend only 18:00-08:00
NIGHT = OwnerPreferences(hours_mask=sum(1 << h for h in (*range(18, 24), *range(0, 8))))
LOW_BATTERY = OwnerPreferences(min_state_of_charge=OWNER_MIN)
NO_TERMS = OwnerPreferences()


def _wrong(car: int, call: int) -> list[WireTensor]:
    """A lie: each differs from every other, so liars never outvote the truth together."""
    return [WireTensor(name="intent", datatype="BYTES", shape=[1], items=[b"%d/%d" % (car, call)])]


def _answer(liar_p: float, rng: np.random.Generator, car: int, call: int) -> list[WireTensor]:
    return _wrong(car, call) if liar_p > 0 and rng.random() < liar_p else RIGHT


@dataclass(slots=True)
class LiarRun:
    """One dishonest car's calls, in order, verified and judged as the planner and registry
    do, and what they came to while the day's answers were held."""

    car: int
    lie_p: float
    rep: Reputation = field(default_factory=Reputation)
    calls: int = 0  # calls replayed so far (the day's and after)
    day_calls: int = 0
    quarantined: bool = False
    in_day: bool = False  # caught within the simulated day itself
    verified_ms: float = 0.0  # answers a check agreed with: billed, paid, never forfeited
    verified: int = 0
    right_ms: float = 0.0  # right answers nobody checked
    right: int = 0
    wrong_ms: float = 0.0  # wrong answers nobody checked
    wrong: int = 0  # every wrong answer of the day, checked or not
    wrong_unchecked: int = 0

    def serve(
        self,
        n: int,
        in_day: bool,
        rng: np.random.Generator,
        checkers: list[int],
        lie_p: npt.NDArray[np.float64],
    ) -> None:
        """`n` calls; checks go to cars from `checkers` (other than this one)."""
        for _ in range(n):
            if self.quarantined:
                return
            k = self.calls
            self.calls += 1
            self.day_calls += in_day
            ms = float(rng.lognormal(3.5, 0.4))
            first = _answer(self.lie_p, rng, self.car, k)
            lied = first is not RIGHT
            if in_day:
                self.wrong += lied
            if not sampled(verify_share(self.rep), "sim", self.car, k, MODEL):
                answered(self.rep)
                if in_day and lied:
                    self.wrong_ms += ms
                    self.wrong_unchecked += 1
                elif in_day:
                    self.right_ms += ms
                    self.right += 1
                continue
            answers = [first]
            for j in (1, 2):  # a second car; a third only when the first two disagree
                checker = checkers[int(rng.integers(len(checkers)))]
                if checker == self.car:
                    checker = checkers[(checkers.index(checker) + 1) % len(checkers)]
                answers.append(_answer(float(lie_p[checker]), rng, checker, -k - j))
                verdict = judge(answers)
                if verdict.decided:
                    break
            if not verdict.decided:
                continue  # no two agreed: the call failed, nobody is billed or blamed
            if 0 in verdict.wrong:
                self.rep.disputes_lost += 1
                if quarantine_due(self.rep):
                    self.quarantined, self.in_day = True, in_day
                continue
            answered(self.rep)
            checked(self.rep)
            if in_day:
                self.verified_ms += ms
                self.verified += 1


@dataclass
class PlacedDay:
    """What placement made of the day."""

    calls: npt.NDArray[np.int64]  # calls each car served
    checker: npt.NDArray[np.int64]  # the car that checks each car's answers (billing)
    liars: dict[int, LiarRun]
    parked_share: float
    leases: int = 0
    refused: int = 0  # leases no car could take
    lost: int = 0  # leases lost because their car drove off mid-work
    by_tier: list[int] = field(default_factory=list)  # leases per quality tier chosen
    quarantined_at: dict[int, float] = field(default_factory=dict)  # car -> seconds into day
    # The fleet as drawn: each car's measured latency (ms) and its owner's terms.
    latency: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    night: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    min_soc: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


@dataclass(slots=True)
class _Stretches:
    car: npt.NDArray[np.int64]
    start: npt.NDArray[np.float64]  # parked from (eligible from: charged to the minimum)
    end: npt.NDArray[np.float64]
    parked_share: float


def _stretches(
    nodes: int, hours: float, seed: int, min_soc: npt.NDArray[np.float64], rng: np.random.Generator
) -> _Stretches:
    """Each car's parked stretches over the horizon, from when its owner's minimum charge
    allows work (a car arriving below it works once charged to it, or not at all)."""
    horizon = hours * sim.HOUR
    days = int(hours // 24) + 1
    soc0 = rng.uniform(0.3, 1.0, nodes)
    cars: list[int] = []
    starts: list[float] = []
    ends: list[float] = []
    parked = 0.0
    for car in range(nodes):
        trips = sim.car_trips(seed * 1_000_003 + car, days)
        parked += sim.parked_fraction(trips, horizon)
        soc, start, plugged, floor = float(soc0[car]), 0.0, True, float(min_soc[car])
        for t in [*trips, sim.Trip(horizon, horizon)]:
            if t.depart_s > horizon:
                t = sim.Trip(horizon, horizon)
            stay = t.depart_s - start
            ready = start
            if soc < floor:  # below the owner's minimum: only once charged up to it
                ready = start + (floor - soc) / sim.CHARGE_PER_H * sim.HOUR if plugged else horizon
            if t.depart_s > ready:
                cars.append(car)
                starts.append(ready)
                ends.append(t.depart_s)
            soc = sim.battery_after(soc, stay, driving=False, charging=plugged)
            if t.depart_s >= horizon:
                break
            soc = sim.battery_after(soc, t.arrive_s - t.depart_s, driving=True, charging=False)
            start, plugged = t.arrive_s, t.plug_in
    return _Stretches(
        np.array(cars, np.int64), np.array(starts), np.array(ends), parked / max(nodes, 1)
    )


def place_day(
    nodes: int,
    hours: float,
    lie_p: npt.NDArray[np.float64],
    *,
    calls_per_hour: float,
    seed: int,
    day_start: datetime,
    rng: np.random.Generator,
    sample: int = SAMPLE,
    granted: list[tuple[float, int]] | None = None,
) -> PlacedDay:
    """The day's leases, placed by the registry's index and `choose`, in time order;
    `granted`, when given, gets (seconds into the day, car) of every lease."""
    owners = rng.random(nodes)
    min_soc = np.where(owners < OWNER_MIN_SHARE, OWNER_MIN, 0.0)
    night = (owners >= OWNER_MIN_SHARE) & (owners < OWNER_MIN_SHARE + NIGHT_SHARE)
    latency = rng.lognormal(3.0, 0.5, nodes)  # ms, as the platform measured each car
    st = _stretches(nodes, hours, seed, min_soc, rng)
    # Demand follows the parked fleet: a parked stretch draws leases as it would draw calls.
    calls_in = rng.poisson((st.end - st.start) / sim.HOUR * calls_per_hour)
    asked = np.flatnonzero(calls_in)
    asked_at = st.start[asked] + rng.random(len(asked)) * (st.end - st.start)[asked]
    # Static events in time order: 0 park, 1 lease asked, 2 unpark (at equal times).
    times = np.concatenate([st.start, asked_at, st.end])
    kinds = np.concatenate([np.zeros(len(st.car)), np.ones(len(asked)), np.full(len(st.car), 2)])
    what = np.concatenate([np.arange(len(st.car)), calls_in[asked], np.arange(len(st.car))])
    order = np.lexsort((kinds, times))

    ids = [f"car-{c}" for c in range(nodes)]
    prefs = [
        LOW_BATTERY if m else NIGHT if n else NO_TERMS for m, n in zip(min_soc, night, strict=True)
    ]
    # Python lists, not arrays, on the per-event path (an array's item costs an object).
    leases_of = [0] * nodes
    lost_of = [0] * nodes
    car_of, leaves = st.car.tolist(), st.end.tolist()
    latency_of = latency.tolist()
    liars = {int(c): LiarRun(int(c), float(lie_p[c])) for c in np.flatnonzero(lie_p)}
    calls = [0] * nodes
    checker = (np.arange(nodes) + 1 + rng.integers(max(1, nodes - 1), size=nodes)) % nodes
    checked_by: set[int] = set()
    day = PlacedDay(
        calls=np.zeros(nodes, np.int64), checker=checker, liars=liars, parked_share=st.parked_share,
        latency=latency, night=night, min_soc=min_soc,
    )  # fmt: skip
    day.by_tier = [0] * 8
    index = PlacementIndex()
    pick = random.Random(seed)
    recent: list[int] = []
    active: dict[int, tuple[int, str, int]] = {}  # lease -> (car, tenant, calls)
    on_car: dict[int, set[int]] = {}
    ends: list[tuple[float, int]] = []
    next_lease = 0

    def end_leases_until(t: float) -> None:
        while ends and ends[0][0] <= t:
            _, lease = heapq.heappop(ends)
            got = active.pop(lease, None)
            if got is not None:
                on_car[got[0]].discard(lease)
                index.ended(ids[got[0]], got[1], MODEL)

    for t, kind, w in zip(
        times[order].tolist(), kinds[order].tolist(), what[order].tolist(), strict=True
    ):
        end_leases_until(t)
        if kind == 0:  # parks (and the owner's minimum allows)
            car = car_of[w]
            liar = liars.get(car)
            if liar is not None and liar.quarantined:
                continue
            trust = 1.0
            if leases_of[car]:
                trust = placement_factor(
                    Reputation(leases=leases_of[car], leases_lost=lost_of[car])
                )
            index.put(
                Candidate(
                    ids[car], MODELS, MAX_LEASES, latency_ms=latency_of[car], trust=trust,
                    expected_departure=day_start + timedelta(seconds=leaves[w]), prefs=prefs[car],
                )
            )  # fmt: skip
        elif kind == 2:  # drives off: leases still on it are lost mid-work
            car = car_of[w]
            for lease in on_car.pop(car, set()):
                _, tenant, n = active.pop(lease)
                index.ended(ids[car], tenant, MODEL)
                lost_of[car] += 1
                day.lost += 1
            index.drop(ids[car])
        else:  # a tenant asks for a lease of `w` calls
            n = w
            tenant = TENANTS[next_lease % len(TENANTS)][0]
            got = choose(
                index, tenant_id=tenant, model=MODEL, ttl_s=n * CALL_S,
                now=day_start + timedelta(seconds=t), rng=pick, sample=sample,
            )  # fmt: skip
            if not isinstance(got, Choice):
                day.refused += 1
                continue
            car = int(got.node_id[4:])
            day.by_tier[index.cars[got.node_id].tier] += 1
            index.leased(got.node_id, tenant, MODEL)
            leases_of[car] += 1
            day.leases += 1
            if granted is not None:
                granted.append((t, car))
            lease = next_lease = next_lease + 1
            active[lease] = (car, tenant, n)
            on_car.setdefault(car, set()).add(lease)
            heapq.heappush(ends, (t + n * CALL_S, lease))
            if car not in checked_by and recent:  # its checks go where placement went
                checker[car] = recent[-1] if recent[-1] != car else checker[car]
                checked_by.add(car)
            recent.append(car)
            if len(recent) > RECENT:
                del recent[: len(recent) - RECENT]
            liar = liars.get(car)
            if liar is None:
                calls[car] += n
                continue
            liar.serve(n, True, rng, recent, lie_p)
            calls[car] += n
            if liar.quarantined:  # the registry stops leasing it
                index.drop(ids[car])
                day.quarantined_at[car] = t
    day.calls[:] = calls
    return day

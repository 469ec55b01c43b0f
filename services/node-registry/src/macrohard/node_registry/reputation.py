"""What the platform has measured of each car, and what follows from it (pure).

Reliability counts what the platform saw happen, never what a car said: leases that ended
as planned versus leases lost because the car vanished or drove off mid-work, calls whose
answers were checked and agreed, disputes lost. From it: how much of a car's work to
re-execute elsewhere (all of a new car's first calls, more of a doubtful car's) and when to
stop leasing it at all (quarantine).
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_CALLS_VERIFIED = 10  # a car's first calls are all re-executed on another car
DEFAULT_VERIFY_SHARE = 0.05  # the floor, for a car with a long clean record
# Trust grows with checks passed: after `v` agreeing checks a car's share is
# TRUST_CHECKS / (TRUST_CHECKS + v) (about 30% over its first day, 8% over its first month,
# the floor after ~150 checks), so a car that lies on a share of its calls is caught while
# its answers are still held (billing's holding period), however rarely it lies.
TRUST_CHECKS = 8
# However trusted, a car is checked at least once in this many of its answers: the volume a
# car serves unverified is bounded.
MAX_UNCHECKED = 50
DISPUTES_TO_QUARANTINE = 1  # deterministic models: an honest car never loses one


@dataclass(slots=True)
class Reputation:
    calls: int = 0  # answered calls (InferenceCompleted, the car's own answers)
    verified: int = 0  # of which checked on other cars and agreed
    unchecked: int = 0  # answers since the last check that agreed
    disputes_lost: int = 0
    leases: int = 0
    leases_lost: int = 0  # revoked because the car was lost or unparked mid-lease

    @property
    def reliability(self) -> float:
        """Share of leases that ended as planned (a new car is given the benefit: 1.0)."""
        if self.leases == 0:
            return 1.0
        return 1.0 - self.leases_lost / self.leases


def verify_share(rep: Reputation, base: float = DEFAULT_VERIFY_SHARE) -> float:
    """The share of a car's calls to re-execute on another car: 1 for its first calls, after
    any lost dispute and once MAX_UNCHECKED answers went unchecked; otherwise falling with
    the checks it passed (TRUST_CHECKS / (TRUST_CHECKS + verified)) down to `base`, and
    doubled for each step its reliability falls under 0.9, 0.8, ... (a car that often
    vanishes mid-work earns less trust)."""
    if rep.verified < FIRST_CALLS_VERIFIED or rep.disputes_lost:
        return 1.0
    if rep.unchecked >= MAX_UNCHECKED:
        return 1.0
    trust = max(base, TRUST_CHECKS / (TRUST_CHECKS + rep.verified))
    doubt = max(0, int((0.9 - rep.reliability) * 10) + 1) if rep.reliability < 0.9 else 0
    return min(1.0, trust * float(2**doubt))


def checked(rep: Reputation) -> None:
    """A check of the car's answer agreed."""
    rep.verified += 1
    rep.unchecked = 0


def answered(rep: Reputation) -> None:
    """The car answered a call (its answer used; a check of it may follow)."""
    rep.calls += 1
    rep.unchecked += 1


def quarantine_due(rep: Reputation) -> bool:
    return rep.disputes_lost >= DISPUTES_TO_QUARANTINE


def placement_factor(rep: Reputation) -> float:
    """Placement's weight for a car's record, in (0, 1]: its reliability (leases completed
    rather than lost to vanishing or unparking mid-work), divided by 1 + disputes lost (one
    quarantines today; the weight still says what a lost dispute is worth if that changes).
    A new car is trusted fully: its work is verified anyway."""
    return max(rep.reliability / (1 + rep.disputes_lost), 0.05)

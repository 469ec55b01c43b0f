"""Which registry replica watches which cars: the pure rebalancing of partitions.

Cars are split into `PARTITIONS` partitions by a hash of their id (contracts.fleet). Each
partition has at most one owner: the replica that absorbs its heartbeats, declares its silent
cars lost and revokes the leases on them. The whole assignment is one small value in
JetStream KV, changed only by compare-and-set on its revision, so two replicas can never both
believe they were given the same partition by the same write.

Every replica rewrites the table each tick (`rebalance`): it renews its membership and the
partitions it keeps, gives back what is over its fair share while others are short, and
takes partitions that are unowned or whose owner stopped renewing. A dead replica's
partitions are free `ttl_s` after its last renewal and taken at the next tick of a survivor,
so a takeover lasts at most ttl + one tick. Time here is the writers' wall clock (seconds):
replicas of one registry run in one region, where clock skew is far below a TTL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Assignment:
    """owners[p] is the replica owning partition p ("" for none); until[p] its lease on it.
    members: replica -> until, so a replica owning nothing yet still counts for fair shares."""

    owners: list[str]
    until: list[float]
    members: dict[str, float] = field(default_factory=dict)

    @classmethod
    def empty(cls, partitions: int) -> Assignment:
        return cls(owners=[""] * partitions, until=[0.0] * partitions)

    def owned_by(self, replica: str, now: float) -> set[int]:
        return {
            p
            for p, (owner, until) in enumerate(zip(self.owners, self.until, strict=True))
            if owner == replica and until > now
        }


def rebalance(table: Assignment, me: str, now: float, ttl_s: float) -> Assignment:
    """The table after replica `me`'s tick. Pure: the caller writes it back with CAS."""
    partitions = len(table.owners)
    members = {r: t for r, t in table.members.items() if t > now and r != me}
    members[me] = now + ttl_s
    live = sorted(members)
    target = math.ceil(partitions / len(live))
    owners = list(table.owners)
    until = list(table.until)
    for p in range(partitions):
        if until[p] <= now or owners[p] not in members:
            owners[p], until[p] = "", 0.0  # expired, or its owner left
    mine = [p for p in range(partitions) if owners[p] == me]
    # Over my share while someone else is short: give back the highest partitions.
    counts = {r: owners.count(r) for r in live}
    short = any(counts[r] < target - 1 for r in live if r != me) or "" in owners
    if len(mine) > target and short:
        for p in sorted(mine, reverse=True)[: len(mine) - target]:
            owners[p], until[p] = "", 0.0
            mine.remove(p)
    for p in mine:
        until[p] = now + ttl_s
    # Take unowned partitions up to my share (the lowest first: deterministic).
    for p in range(partitions):
        if len(mine) >= target:
            break
        if owners[p] == "":
            owners[p], until[p] = me, now + ttl_s
            mine.append(p)
    return Assignment(owners=owners, until=until, members=members)

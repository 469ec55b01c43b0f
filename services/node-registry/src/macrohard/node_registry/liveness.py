"""Who is alive, from heartbeat arrival times (pure: time is an argument).

The registry's hottest code: every heartbeat of a replica's partitions lands in `beat`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from itertools import repeat

MISSED_HEARTBEATS_TO_LOSE = 3


class Liveness:
    """A node is lost once `misses` intervals pass without a heartbeat.

    A heartbeat costs two dict lookups and a store: the node's deadline is not moved on
    each beat. Each watched node has one entry in a time bucket (`_due`: node -> bucket);
    when its bucket comes due, the sweep compares the deadline its last beat implies with
    the time: passed, the node is lost; not yet, the entry moves to the bucket of that
    deadline. So a sweep looks only at buckets that have come due, about one entry per node
    per `misses` intervals, and the cost follows the fleet's heartbeat rate, never a scan
    of the fleet. Loss is declared at most a bucket (a fortieth of an interval, at most
    0.1 s) plus one sweep period (at most 0.25 s) after the deadline: well inside the 1 s
    the target allows beyond 3 intervals.
    """

    def __init__(
        self, default_interval_s: float, *, misses: int = MISSED_HEARTBEATS_TO_LOSE
    ) -> None:
        self.default_interval_s = default_interval_s
        self.misses = misses
        self.resolution_s = min(0.1, default_interval_s / 40)
        self.last_seen: dict[str, float] = {}
        self.intervals: dict[str, float] = {}
        self.declared_lost: set[str] = set()
        self._buckets: dict[int, list[str]] = defaultdict(list)
        self._due: dict[str, int] = {}
        self._swept_to = -1

    def forget(self, node_ids: Iterable[str]) -> None:
        """Stop watching these nodes (their partition moved to another replica): a node not
        in `last_seen` is never declared lost here; its bucket entry is dropped when due."""
        for node_id in node_ids:
            self.last_seen.pop(node_id, None)
            self.declared_lost.discard(node_id)
            self._due.pop(node_id, None)

    def timeout(self, node_id: str) -> float:
        return self.misses * self.intervals.get(node_id, self.default_interval_s)

    def _schedule(self, node_id: str, deadline: float) -> None:
        bucket = math.ceil(deadline / self.resolution_s)
        self._due[node_id] = bucket
        self._buckets[bucket].append(node_id)

    def beat(self, node_id: str, now: float) -> bool:
        """Record a heartbeat; True when the node had been declared lost (it is back)."""
        if node_id not in self._due:  # new here, or lost and back: its deadline is watched
            self._schedule(node_id, now + self.timeout(node_id))
        self.last_seen[node_id] = now
        if self.declared_lost and node_id in self.declared_lost:
            self.declared_lost.discard(node_id)
            return True
        return False

    def beats(self, node_ids: list[str], now: float) -> tuple[set[str], set[str]]:
        """`beat` for a read's worth of heartbeats at once (the intake's hot path): one
        C-level pass storing the times, the one lookup per beat in a fleet-sized table;
        the rest only when the table grew (a car new here) or a lost car is in the read.
        Returns (new: nodes not watched before, back: nodes that had been declared lost)."""
        seen = self.last_seen
        known = len(seen)
        seen.update(zip(node_ids, repeat(now)))
        new: set[str] = set()
        if len(seen) != known:  # someone's first beat here: give it its deadline
            new = set(node_ids).difference(self._due)
            for node_id in new:
                self._schedule(node_id, now + self.timeout(node_id))
        if not self.declared_lost or self.declared_lost.isdisjoint(node_ids):
            return new, set()
        back = self.declared_lost.intersection(node_ids)
        self.declared_lost -= back
        for node_id in back:  # watched again
            self._schedule(node_id, now + self.timeout(node_id))
        return new, back

    def alive(self, node_id: str, now: float) -> bool:
        seen = self.last_seen.get(node_id)
        return seen is not None and now - seen < self.timeout(node_id)

    def sweep(self, now: float) -> list[str]:
        """Nodes whose deadline passed since the last sweep; each is reported once."""
        lost: list[str] = []
        tick = math.floor(now / self.resolution_s)
        if self._swept_to < 0:
            due = [b for b in self._buckets if b <= tick]
        else:
            due = [b for b in range(self._swept_to + 1, tick + 1) if b in self._buckets]
        for bucket in sorted(due):
            for node_id in self._buckets.pop(bucket):
                if self._due.get(node_id) != bucket:
                    continue  # a stale entry: the node was forgotten or moved since
                seen = self.last_seen.get(node_id)
                if seen is None:
                    del self._due[node_id]
                    continue
                deadline = seen + self.timeout(node_id)
                if now >= deadline:
                    del self._due[node_id]  # watched again from its next beat
                    self.declared_lost.add(node_id)
                    lost.append(node_id)
                else:  # heard since: its bucket is past `tick` (deadline > now)
                    self._schedule(node_id, deadline)
        self._swept_to = max(self._swept_to, tick)
        return lost

"""Lease slots per car in JetStream KV: the one place a grant is decided across replicas.

Every replica follows the whole log and may answer any lease request, so two replicas can
both see the last free slot of a car. Before a grant is appended, the slot is claimed by
compare-and-set on the car's key (`slots.<node_id>`: lease id -> claimed at); the loser of a
race re-reads and finds the car full. The log stays the record of leases, the key only the
gate, so ends need no write here: a claim counts while its lease is active in this replica's
view of the log, or, for a claim the view has not seen yet, for `grace_s` after it was made
(a grant appended a moment ago by another replica, or one whose replica died before
appending it: that slot comes back after the grace). A replica whose view of the log lags
by more than the grace could count a fresh grant as stale; the grace is many times the
log's propagation delay (milliseconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

GRACE_S = 30.0
_decode = msgspec.json.Decoder(dict[str, float]).decode
_encode = msgspec.json.Encoder().encode


def held_claims(
    claims: dict[str, float],
    *,
    active: Container[str],
    ended: Container[str],
    now: float,
    grace_s: float = GRACE_S,
) -> dict[str, float]:
    """The claims that still hold a slot (pure): active leases, and unseen recent ones."""
    return {
        lease: at
        for lease, at in claims.items()
        if lease in active or (lease not in ended and now - at < grace_s)
    }


class SlotBook:
    def __init__(
        self, kv: KeyValue, *, grace_s: float = GRACE_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.kv = kv
        self.grace_s = grace_s
        self._clock = clock
        self.conflicts = 0  # CAS races lost (for stats and tests)

    async def claim(
        self,
        node_id: str,
        lease_id: str,
        capacity: int,
        *,
        active: Container[str],
        ended: Container[str],
    ) -> bool:
        """Take one of the car's `capacity` slots for `lease_id`; False when it is full."""
        key = f"slots.{node_id}"
        while True:
            try:
                entry = await self.kv.get(key)
                claims, revision = _decode(entry.value or b"{}"), entry.revision or 0
            except KeyNotFoundError:
                claims, revision = {}, 0
            now = self._clock()
            held = held_claims(claims, active=active, ended=ended, now=now, grace_s=self.grace_s)
            if len(held) >= capacity:
                return False
            held[lease_id] = now
            try:
                if revision:
                    await self.kv.update(key, _encode(held), last=revision)
                else:
                    await self.kv.create(key, _encode(held))
            except KeyWrongLastSequenceError:
                self.conflicts += 1  # another replica wrote first: look again
                continue
            return True

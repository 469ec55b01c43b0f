"""The partition table in JetStream KV, rewritten by compare-and-set each tick.

`PartitionTable.tick()` reads the one key, applies `partitioning.rebalance` for this replica
and writes it back expecting the revision it read; a concurrent write by another replica
makes the write fail, and the tick reads again. What this replica gained and lost is
returned, so the registry starts or stops watching those cars. A replica that cannot reach
KV for a whole TTL stops owning anything (it could not know whether it still does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from macrohard.contracts.fleet import REGISTRY_BUCKET
from macrohard.node_registry.partitioning import Assignment, rebalance

log = logging.getLogger("macrohard.node_registry")

BUCKET = REGISTRY_BUCKET  # the partition table and the lease slots, all small
TABLE_KEY = "partitions"


async def registry_bucket(js: JetStreamContext, replicas: int = 1) -> KeyValue:
    """The registry's coordination bucket (created on first use; file storage, so a
    restart of NATS keeps who holds which lease slot)."""
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(
            KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE, replicas=replicas)
        )


class _Table(msgspec.Struct):
    owners: list[str]
    until: list[float]
    members: dict[str, float] = {}


@dataclass
class Change:
    gained: set[int]
    lost: set[int]


class PartitionTable:
    def __init__(
        self,
        kv: KeyValue,
        replica: str,
        partitions: int,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kv = kv
        self.replica = replica
        self.partitions = partitions
        self.ttl_s = ttl_s
        self.owned: set[int] = set()
        self._clock = clock
        self._held_until = 0.0

    async def _read(self) -> tuple[Assignment, int]:
        try:
            entry = await self.kv.get(TABLE_KEY)
        except KeyNotFoundError:
            return Assignment.empty(self.partitions), 0
        t = msgspec.json.decode(entry.value or b"", type=_Table)
        return Assignment(t.owners, t.until, dict(t.members)), entry.revision or 0

    async def tick(self) -> Change:
        """One renewal round; returns the partitions gained and lost since the last one."""
        for _ in range(8):  # contention between replicas settles in a round or two
            now = self._clock()
            current, revision = await self._read()
            table = rebalance(current, self.replica, now, self.ttl_s)
            body = msgspec.json.encode(_Table(table.owners, table.until, table.members))
            try:
                if revision:
                    await self.kv.update(TABLE_KEY, body, last=revision)
                else:
                    await self.kv.create(TABLE_KEY, body)
            except KeyWrongLastSequenceError:
                continue
            self._held_until = now + self.ttl_s
            return self._settle(table.owned_by(self.replica, now))
        log.warning("partition table contended; keeping the current partitions this tick")
        return self.expire_if_stale()

    def expire_if_stale(self) -> Change:
        """Without a successful write for a whole TTL, another replica may own our
        partitions by now: stop watching them rather than declare their cars twice."""
        if self._clock() >= self._held_until:
            return self._settle(set())
        return Change(set(), set())

    def _settle(self, owned: set[int]) -> Change:
        change = Change(gained=owned - self.owned, lost=self.owned - owned)
        self.owned = owned
        return change

    async def leave(self) -> None:
        """Give every partition back at once (a clean stop: no TTL to wait out)."""
        for _ in range(8):
            current, revision = await self._read()
            if not revision:
                return
            owners = [o if o != self.replica else "" for o in current.owners]
            until = [
                u if o != self.replica else 0.0
                for o, u in zip(current.owners, current.until, strict=True)
            ]
            members = {r: t for r, t in current.members.items() if r != self.replica}
            body = msgspec.json.encode(_Table(owners, until, members))
            try:
                await self.kv.update(TABLE_KEY, body, last=revision)
            except KeyWrongLastSequenceError:
                continue
            self._settle(set())
            return

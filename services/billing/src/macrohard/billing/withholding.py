"""What billing does when the registry quarantines a car: settle its held answers.

The projection lists each `NodeQuarantined` (billing.quarantines). For each one not settled
yet, the `Withholder` reads the car's answers still inside the holding period before the
quarantine (billing's read model: usage records, and whether a check agreed with each),
lets `holding.forfeiture` decide what is owed, and appends:
- one `InferenceRetracted` per suspect answer, in that task's own log, linking the answer
  (its InferenceCompleted) to the step and the intent it produced: what reached the
  actuator is traced;
- one `AnswersCredited` per (tenant, period): the tenant's credit and the owner's withheld
  pay, which the projection rates back (a "credit" line on the next open invoice, a
  negative amount on the owner's next statement).
Every event's id derives from the quarantine and what it is about, so a second replica, or
the same one after a crash, stores each once; the projection counts the credits seen and
marks the quarantine settled when all are in.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from nats.errors import Error as NatsError

from macrohard.billing.holding import HOLDING_PERIOD, Credit, HeldAnswer, forfeiture
from macrohard.billing.money import format_money
from macrohard.contracts import envelope
from macrohard.contracts.agent import InferenceCompleted, InferenceRetracted, IntentEmitted
from macrohard.contracts.billing import AnswersCredited
from macrohard.contracts.envelope import derived_event_id
from macrohard.eventlog.db import Conn
from macrohard.eventlog.errors import EventLogError
from macrohard.eventlog.store import EventStore

log = logging.getLogger("macrohard.billing.withholding")

# A car's answers inside the window, one row per answer (its compute and energy summed), and
# whether a check of the same call on another car agreed with it.
_HELD = """
SELECT u.tenant_id, u.usage_period, min(u.occurred_at), u.call, u.event_id::text,
       sum(u.amount_micros)::bigint, sum(u.payout_micros)::bigint,
       EXISTS (SELECT 1 FROM billing.usage_records v
               WHERE v.tenant_id = u.tenant_id AND v.call = u.call AND v.checks = u.node_id
                 AND v.meter LIKE 'verification:%')
FROM billing.usage_records u
WHERE u.node_id = $1 AND u.occurred_at > $2 AND u.occurred_at <= $3 AND u.call <> ''
  AND u.meter NOT LIKE 'verification:%'
GROUP BY u.tenant_id, u.usage_period, u.call, u.event_id, u.node_id
ORDER BY 3
"""


@dataclass(frozen=True, slots=True)
class _Quarantine:
    event_id: str
    node_id: str
    at: datetime


async def held_answers(
    conn: Conn, node_id: str, quarantined_at: datetime, hold: timedelta
) -> tuple[list[HeldAnswer], dict[str, str], str]:
    """The car's answers in the window, the answer event of each call, and its owner."""
    rows = await conn.fetch(_HELD, node_id, quarantined_at - hold, quarantined_at)
    answers = [
        HeldAnswer(tenant_id=r[0], usage_period=r[1], occurred_at=r[2], amount=r[5],
                   payout=r[6], verified=r[7], call=r[3])
        for r in rows
    ]  # fmt: skip
    owner = await conn.fetchval(
        "SELECT owner_account FROM billing.usage_records WHERE node_id = $1 LIMIT 1", node_id
    )
    return answers, {r[3]: r[4] for r in rows}, owner or ""


class Withholder:
    def __init__(
        self, store: EventStore, pool: asyncpg.Pool, *, hold: timedelta = HOLDING_PERIOD
    ) -> None:
        self._store = store
        self._pool = pool
        self._hold = hold
        self._settled: set[str] = set()  # owed nothing, or appended until the projection sees

    async def run_once(self) -> int:
        """Settle every quarantine not settled yet; return how many events were appended."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT event_id, node_id, quarantined_at FROM billing.quarantines
                   WHERE credits < 0 OR credits_seen < credits ORDER BY seq"""
            )
        appended = 0
        for event_id, node_id, at in rows:
            if event_id in self._settled:
                continue
            appended += await self.settle(_Quarantine(event_id, node_id, at))
            self._settled.add(event_id)
        return appended

    async def settle(self, q: _Quarantine) -> int:
        async with self._pool.acquire() as conn:
            answers, events, owner = await held_answers(conn, q.node_id, q.at, self._hold)
        credits = forfeiture(answers, q.at, self._hold)
        appended = 0
        for credit in credits:
            # Traced first: a crash before the credit re-does both (same ids).
            for call in credit.answers:
                appended += await self._retract(credit.tenant_id, call, events[call], q)
            await self._credit(credit, len(credits), owner, q)
            appended += 1
        if credits:
            log.warning(
                "held answers of a quarantined car credited",
                extra={"node_id": q.node_id, "calls": sum(c.calls for c in credits)},
            )
        return appended

    async def _retract(self, tenant: str, call: str, answer_id: str, q: _Quarantine) -> int:
        task_id, step, model = call.rsplit(":", 2)
        records = await self._store.read_aggregate(tenant, "task", task_id)
        intent = next(
            (r.envelope.id for r in records
             if isinstance(r.payload, IntentEmitted) and r.payload.step == int(step)),
            "",
        )  # fmt: skip
        answer = next(
            (r.envelope for r in records if r.envelope.id == answer_id
             and isinstance(r.payload, InferenceCompleted)),
            None,
        )  # fmt: skip
        env = envelope(
            InferenceRetracted(
                task_id=task_id, step=int(step), model=model, node_id=q.node_id,
                inference_event_id=answer_id, intent_event_id=intent,
                quarantine_event_id=q.event_id,
                reason=f"{q.node_id} was quarantined for a wrong answer while this one, "
                "never checked, was still held",
            ),
            tenant=tenant, aggregate_id=task_id,
            event_id=derived_event_id(q.event_id, f"retract:{call}"),
            causation_id=q.event_id,
            correlation_id=answer.correlation_id if answer is not None else None,
        )  # fmt: skip
        await self._store.append([env], expected_version=None)
        return 1

    async def _credit(self, credit: Credit, of: int, owner: str, q: _Quarantine) -> None:
        about = f"credit:{credit.tenant_id}:{credit.usage_period}"
        env = envelope(
            AnswersCredited(
                tenant_id=credit.tenant_id, period=credit.usage_period, node_id=q.node_id,
                owner_account=owner, calls=credit.calls, amount=format_money(credit.amount),
                withheld=format_money(credit.withheld), quarantine_event_id=q.event_id,
                credits=of, reason=f"answers of {q.node_id}, quarantined for a wrong answer",
            ),
            tenant=credit.tenant_id, aggregate_id=q.node_id,
            event_id=derived_event_id(q.event_id, about),
            causation_id=q.event_id,
        )  # fmt: skip
        await self._store.append([env], expected_version=None)

    async def run(self, interval_s: float = 5.0) -> None:
        while True:
            try:
                await self.run_once()
            # The log or the database away for a while: the next round settles it (the
            # events' ids derive from the quarantine, so nothing is appended twice).
            except (OSError, TimeoutError, asyncpg.PostgresError, NatsError, EventLogError) as exc:
                log.warning("settling quarantines failed; retrying", extra={"error": str(exc)})
            await asyncio.sleep(interval_s)

"""A browser-side peer for runs without the actuator service: Chromium acting on intents.

It plays the actuator's part of the protocol on the bus (IntentEmitted in; ActionExecuted
and PageObserved out, on the `browser` aggregate of the task), so the planner service is
exercised exactly as in production. The bench says when this path was used instead of the
real actuator: it has none of the actuator's safety layer and is for local pages only.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.api import DeliverPolicy

from macrohard.bench.miniwob_episode import DirectPage
from macrohard.contracts.agent import IntentEmitted
from macrohard.contracts.browser import ActionExecuted, PageObserved
from macrohard.contracts.envelope import Envelope, caused_by
from macrohard.eventlog import EventStore


class PageActor:
    """Acts for one task on one Chromium page until the task's intents stop coming."""

    def __init__(self, nc: NATS, store: EventStore, page: Any, tenant: str, task_id: str) -> None:
        self.nc, self.store, self.page = nc, store, DirectPage(page)
        self.tenant, self.task_id = tenant, task_id
        self.steps = 0

    async def run(self, stop: asyncio.Event) -> None:
        subject = f"ev.{self.tenant}.task.{self.task_id}.IntentEmitted"
        sub = await self.nc.jetstream().subscribe(
            subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        try:
            while not stop.is_set():
                try:
                    msg = await sub.next_msg(timeout=0.2)
                except TimeoutError:
                    continue
                meta = msg.metadata
                rec = self.store.registry.recorded(
                    msg.data, sequence=meta.sequence.stream, subject=msg.subject
                )
                if isinstance(rec.payload, IntentEmitted):
                    await self.act(rec.envelope, rec.payload)
        finally:
            await sub.unsubscribe()

    async def act(self, cause: Envelope, ev: IntentEmitted) -> None:
        if ev.intent.action in ("done", "fail"):
            return
        started = time.perf_counter()
        if ev.intent.action == "navigate":
            try:
                await self.page.page.goto(ev.intent.url or "")
                await asyncio.sleep(0.1)  # the page starts its episode on load
                ok, error = True, ""
            except Exception as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
        else:
            ok, error = await self.page.act(ev.intent)
        self.steps += 1
        observation = await self.page.observe()
        done = ActionExecuted(
            task_id=self.task_id,
            step=ev.step,
            intent_event_id=cause.id,
            action=ev.intent.action,
            ok=ok,
            error=error,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        seen = PageObserved(task_id=self.task_id, step=ev.step, observation=observation)
        envs = [
            caused_by(e, cause, aggregate_id=self.task_id, purpose=f"act:{i}")
            for i, e in enumerate((done, seen))
        ]
        await self.store.append(envs, expected_version=None)

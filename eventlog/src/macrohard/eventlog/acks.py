"""Publish-and-wait-for-ack over one shared reply subscription.

nats-py's `request()` arms a timer per call (`asyncio.wait_for`), and at tens of thousands of
appends per second the timer heap dominates. Here every request shares one wildcard reply
subject; a single sweeper fails the requests whose deadline passed. Deadlines are taken in
order (one fixed timeout), so the sweep pops from the left of a deque: O(1) per request.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque

import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription


class AckTimeout(nats.errors.TimeoutError):
    """No ack in time: the server is down, or it dropped the publish (e.g. no permission).

    A nats TimeoutError, so callers catch it as they would any nats-py request timeout.
    """

    def __init__(self, subject: str, timeout: float) -> None:
        super().__init__()
        self.subject = subject
        self.timeout = timeout

    def __str__(self) -> str:
        return f"no JetStream ack for {self.subject} within {self.timeout}s"


class AckInbox:
    def __init__(self, nc: NATS, timeout: float) -> None:
        self._nc = nc
        self._timeout = timeout
        self._prefix = ""
        self._sub: Subscription | None = None
        self._pending: dict[str, asyncio.Future[bytes]] = {}
        self._deadlines: deque[tuple[float, str, str]] = deque()
        self._tokens = itertools.count()
        self._sweeper: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _ensure_started(self) -> None:
        if self._sub is not None:
            return
        async with self._lock:
            if self._sub is None:
                self._prefix = self._nc.new_inbox()
                self._sub = await self._nc.subscribe(self._prefix + ".*", cb=self._on_reply)
                self._sweeper = asyncio.create_task(self._sweep())

    async def _on_reply(self, msg: Msg) -> None:
        fut = self._pending.pop(msg.subject[len(self._prefix) + 1 :], None)
        if fut is None or fut.done():
            return
        if not msg.data:
            # A status, not an ack: 503 is "no responders" (the stream's leader died and no
            # node has taken the publish yet, as when a cluster node is killed). Nothing was
            # stored; the caller retries as after any unavailable bus, never decodes it.
            status = (msg.headers or {}).get("Status", "")
            fut.set_exception(
                nats.errors.NoRespondersError()
                if status == "503"
                else nats.errors.Error(f"JetStream answered status {status or 'empty'}, not an ack")
            )
            return
        fut.set_result(msg.data)

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._nc.is_closed:
            await asyncio.sleep(min(self._timeout / 4, 0.5))
            now = loop.time()
            while self._deadlines and self._deadlines[0][0] <= now:
                _, token, subject = self._deadlines.popleft()
                fut = self._pending.pop(token, None)
                if fut is not None and not fut.done():
                    fut.set_exception(AckTimeout(subject, self._timeout))

    async def request(self, subject: str, data: bytes, headers: dict[str, str]) -> bytes:
        """Publish `data` with a reply subject and return the ack's payload."""
        await self._ensure_started()
        loop = asyncio.get_running_loop()
        token = str(next(self._tokens))
        fut: asyncio.Future[bytes] = loop.create_future()
        self._pending[token] = fut
        self._deadlines.append((loop.time() + self._timeout, token, subject))
        await self._nc.publish(subject, data, reply=f"{self._prefix}.{token}", headers=headers)
        return await fut

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._sub is not None:
            await self._sub.unsubscribe()
        self._sub = None

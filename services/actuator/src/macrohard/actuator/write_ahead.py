"""The write-ahead record of an action's effects: what left the browser, recorded before it did.

While an action with effects is in flight (its ActionStarted is in the log and its
ActionExecuted is not), every request of the task's context that can carry an effect
(`domain.can_carry_effect`: a form POST, a fetch PUT, a beacon, from any frame) waits in the
route guard until ActionReachedSite is in the log, and only then goes out. When every request
so recorded has been answered, ActionLanded says where the page stood (the main frame's final
URL after a form's redirect chain). A redelivery of the interrupted action then knows, from
the log alone, whether the site got anything (`session.interrupted_outcome`).

Appends go through one lock and carry the aggregate's version, so a replica that lost the
session (a takeover appended SessionOpened) cannot record, and so cannot send, anything more:
its request is aborted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import msgspec
from nats.errors import Error as NatsError
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request, Response

from macrohard.actuator.domain import scrub, well_formed
from macrohard.contracts.agent import IntentEmitted
from macrohard.contracts.browser import ActionExecuted, ActionLanded, ActionReachedSite
from macrohard.contracts.envelope import Envelope, Event, caused_by
from macrohard.eventlog.errors import EventLogError
from macrohard.eventlog.store import EventStore

log = logging.getLogger("macrohard.actuator.write_ahead")

# Records appended for one action at most; past it a request still waits for its record
# (so a runaway page cannot flood the log, it is refused instead).
MAX_RECORDS = 32


class EffectRecorder:
    """One in-flight action's write-ahead record (armed on a TaskBrowser while it acts)."""

    def __init__(
        self,
        store: EventStore,
        cause: Envelope,
        intent: IntentEmitted,
        version: int,
        secrets: Sequence[str],
    ) -> None:
        self._store = store
        self._cause = cause
        self._intent = intent
        self.version = version  # the browser aggregate's, after this recorder's appends
        self._secrets = secrets
        self._lock = asyncio.Lock()
        self._outstanding: set[Request] = set()
        self._landing_url = ""
        self._unanswered = False  # a recorded request failed: where it landed stays unknown
        self._records = 0
        self._landings: set[asyncio.Task[None]] = set()
        self.closed = False
        self.reached = False  # a request that can carry an effect left the browser
        self.refused = ""  # why a request was not sent (its record could not be written)
        self.outcome: Envelope | None = None  # the ActionExecuted `close` appended

    async def before_send(self, request: Request) -> bool:
        """Record that `request` leaves; False when it must not (no record, no send)."""
        async with self._lock:
            if self.closed:
                return True  # the action's outcome is in the log: nothing is in flight
            if self._records >= MAX_RECORDS:
                self.refused = f"more than {MAX_RECORDS} requests with effects in one action"
                return False
            url = scrub(well_formed(request.url), self._secrets)
            ie = self._intent
            record = ActionReachedSite(
                task_id=ie.task_id, step=ie.step, intent_event_id=self._cause.id,
                method=request.method.upper(), url=url,
            )  # fmt: skip
            try:
                await self._append(record, f"ActionReachedSite:{self._records}")
            except (EventLogError, NatsError, TimeoutError) as exc:
                # Not in the log, so not sent: the outcome stays known.
                self.refused = f"its record could not be written ({exc})"
                log.warning(
                    "request with effects not sent: no record",
                    extra={"task": ie.task_id, "correlation_id": self._cause.correlation_id,
                           "error": str(exc)},
                )  # fmt: skip
                return False
            self._records += 1
            self.reached = True
            self._outstanding.add(request)
            return True

    def answered(self, response: Response, page: Page) -> None:
        """A response arrived: the end of a recorded request's redirect chain lands it."""
        request = response.request
        root = _chain_root(request)
        if root not in self._outstanding or 300 <= response.status < 400:
            return
        self._outstanding.discard(root)
        if _main_frame_navigation(request, page):
            self._landing_url = response.url
        self._maybe_landed(page)

    def failed(self, request: Request, page: Page) -> None:
        """A recorded request failed after it left: whether the site acted on it is unknown."""
        root = _chain_root(request)
        if root in self._outstanding:
            self._outstanding.discard(root)
            self._unanswered = True

    def _maybe_landed(self, page: Page) -> None:
        if self._outstanding or self._unanswered or self.closed:
            return
        url = self._landing_url or page.url
        if not url.startswith(("http://", "https://")):
            return
        job = asyncio.create_task(self._landed(scrub(well_formed(url), self._secrets)))
        self._landings.add(job)
        job.add_done_callback(self._landings.discard)

    async def _landed(self, url: str) -> None:
        async with self._lock:
            if self.closed or self._outstanding or self._unanswered:
                return  # another request left meanwhile: its own answer lands it
            ie = self._intent
            landed = ActionLanded(
                task_id=ie.task_id, step=ie.step, intent_event_id=self._cause.id, url=url
            )
            try:
                await self._append(landed, f"ActionLanded:{self._records}")
            except (EventLogError, NatsError, TimeoutError) as exc:
                # Only evidence: without it a redelivery reports the outcome unknown.
                log.warning("landing not recorded", extra={"task": ie.task_id, "error": str(exc)})

    async def _append(self, event: Event, purpose: str) -> None:
        env = caused_by(event, self._cause, aggregate_id=self._intent.task_id, purpose=purpose)
        result = await self._store.append([env], expected_version=self.version)
        self.version = result.version

    async def close(self, last: Envelope | None = None) -> int:
        """End the record (appending `last`, the action's ActionExecuted, under its lock so
        nothing is recorded after it); returns the aggregate's version after it.

        The outcome is amended under the lock too: a request whose record failed while the
        action was finishing was not sent, so the action is not reported done. `outcome`
        keeps what was (or was to be) appended, for the caller to remember if the append
        fails."""
        async with self._lock:
            self.closed = True
            for job in self._landings:
                job.cancel()
            if last is not None:
                self.outcome = last = self._amended(last)
                result = await self._store.append([last], expected_version=self.version)
                self.version = result.version
            return self.version

    def _amended(self, last: Envelope) -> Envelope:
        executed = last.payload
        if not self.refused or not isinstance(executed, ActionExecuted) or not executed.ok:
            return last
        # Not sent for want of its record: not done (or partly, when an earlier request of
        # the action was sent and recorded).
        amended = msgspec.structs.replace(
            executed,
            ok=False,
            outcome_unknown=self.reached,
            error=f"the page's request was not sent: {self.refused}",
        )
        return msgspec.structs.replace(last, payload=amended)


def _chain_root(request: Request) -> Request:
    """The request that started a redirect chain (the one the route held)."""
    while request.redirected_from is not None:
        request = request.redirected_from
    return request


def _main_frame_navigation(request: Request, page: Page) -> bool:
    try:
        return request.is_navigation_request() and request.frame == page.main_frame
    except PlaywrightError:  # a frame already detached (a service worker has none)
        return False

"""The browser session aggregate and what to do with an arriving intent (pure, no I/O).

Kept apart from domain.py's page and network rules: this is about delivery, affinity and
redelivery, the part of the actuator that the log drives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from macrohard.actuator.domain import effect_free
from macrohard.contracts.browser import (
    ActionExecuted,
    ActionLanded,
    ActionReachedSite,
    ActionStarted,
    PageElement,
    PageObserved,
    SessionClosed,
    SessionOpened,
)
from macrohard.contracts.envelope import Envelope

MAX_SEEN = 2000


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """The browser aggregate (id = task id) folded from the log."""

    worker: str = ""
    open: bool = False
    last_url: str = ""
    started: frozenset[str] = frozenset()  # intent event ids with an ActionStarted
    executed: frozenset[str] = frozenset()  # intent event ids with an ActionExecuted
    observed: frozenset[str] = frozenset()  # intent event ids with a PageObserved
    steps: int = 0
    # The write-ahead record of interrupted actions, by intent event id: "" once a request
    # that can carry an effect reached the site (ActionReachedSite), the page's URL once all
    # of them were answered (ActionLanded). The last record wins: a request after a landing
    # makes the outcome unknown again.
    reached: Mapping[str, str] = field(default_factory=dict)
    # Every element observed on the current document, by id: the planner may name an element
    # from an earlier observation of the page, and re-finding a stale one needs its role+name.
    seen: Mapping[int, PageElement] = field(default_factory=dict)


def evolve(state: BrowserSession, env: Envelope) -> BrowserSession:
    event = env.payload
    if isinstance(event, SessionOpened):
        return replace(state, worker=event.worker, open=True, last_url=event.url or state.last_url)
    if isinstance(event, ActionStarted):
        return replace(state, started=state.started | {event.intent_event_id})
    if isinstance(event, ActionReachedSite):
        return replace(state, reached={**state.reached, event.intent_event_id: ""})
    if isinstance(event, ActionLanded):
        return replace(state, reached={**state.reached, event.intent_event_id: event.url})
    if isinstance(event, ActionExecuted):
        return replace(
            state, executed=state.executed | {event.intent_event_id}, steps=state.steps + 1
        )
    if isinstance(event, PageObserved):
        fresh = {e.id: e for e in event.observation.elements}
        same_page = event.observation.url == state.last_url
        seen = {**state.seen, **fresh} if same_page and len(state.seen) < MAX_SEEN else fresh
        return replace(
            state,
            observed=state.observed | {event.intent_event_id},
            last_url=event.observation.url or state.last_url,
            seen=seen,
        )
    if isinstance(event, SessionClosed):
        return replace(state, open=False)
    return state


class Delivery(Enum):
    """What to do with an intent that arrived (first time or redelivered)."""

    SKIP = "skip"  # already executed and observed: a redelivery, nothing left to do
    OBSERVE = "observe"  # executed but its observation never landed: observe again
    FORWARD = "forward"  # another live worker holds the task's browser context
    EXECUTE = "execute"  # ours (or new): do it
    TAKE_OVER = "take_over"  # the holder is gone: open a fresh context, restore, observe


def plan_delivery(
    state: BrowserSession,
    intent_event_id: str,
    *,
    worker: str,
    has_context: bool,
    holder_unreachable: bool = False,
) -> Delivery:
    """Per-task affinity and redelivery in one decision.

    The session's browser context lives in the worker named by the last SessionOpened. Any
    other replica forwards the intent there; when that worker does not answer it takes the
    session over. A redelivered intent whose ActionExecuted is already in the log is never
    run twice (a click is not idempotent).
    """
    if intent_event_id in state.executed:
        if intent_event_id in state.observed:
            return Delivery.SKIP
        if state.worker == worker:
            return Delivery.OBSERVE if has_context else Delivery.TAKE_OVER
        return Delivery.TAKE_OVER if holder_unreachable else Delivery.FORWARD
    if not state.open:
        # New task, or a finished one asked again: a fresh context is all it takes.
        return Delivery.EXECUTE
    if state.worker == worker:
        return Delivery.EXECUTE if has_context else Delivery.TAKE_OVER
    return Delivery.TAKE_OVER if holder_unreachable else Delivery.FORWARD


class Interrupted(Enum):
    """What a redelivery does with an action that has ActionStarted but no ActionExecuted."""

    REDO = "redo"  # no effect to repeat (`effect_free`): done again
    NOT_SENT = "not_sent"  # nothing that can carry an effect left the browser: not done
    LANDED = "landed"  # it reached the site and was answered: done, reopen where it led
    UNKNOWN = "unknown"  # it reached the site, its answer never came: report, never repeat


def interrupted_outcome(state: BrowserSession, intent_event_id: str, action: str) -> Interrupted:
    """The outcome of an interrupted action, from the write-ahead records in the log.

    Every request that can carry an effect is held until its ActionReachedSite is in the log,
    so no record means the site received nothing from this action (a kill between the record
    and the send errs the safe way: recorded, not sent, reported unknown). A landing without
    a later request means every such request was answered: the effect is done, and where the
    page stood then can be opened again with a GET.
    """
    if effect_free(action):
        return Interrupted.REDO
    if intent_event_id not in state.reached:
        return Interrupted.NOT_SENT
    return Interrupted.LANDED if state.reached[intent_event_id] else Interrupted.UNKNOWN

"""Saved sessions: a named browser state (cookies, local storage) a tenant's tasks reuse.

The aggregate is the session's name within the tenant (`ev.<tenant>.saved_session.<name>`),
so no other tenant's task can even address it. The state itself is only ever in the log as
ciphertext, sealed with the tenant's key exactly like a task secret (AES-GCM, the tenant
and `session_sealed_name(name)` as associated data). One task at a time holds a session:
the gateway appends SessionClaimed at the aggregate's version (so of two submissions exactly
one wins) and the actuator ends the hold with SessionSaved or SessionReleased.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from macrohard.contracts.envelope import Event
from macrohard.contracts.tasks import SealedSecret

SESSION_AGGREGATE = "saved_session"
SESSION_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def session_sealed_name(name: str) -> str:
    """The name a session's state is sealed under (its own namespace: a secret's name may
    not hold a colon, so a secret and a session never open as each other)."""
    return f"session:{name}"


class SessionClaimed(Event, frozen=True, kw_only=True):
    """A task will use the session; nobody else may until its hold ends."""

    aggregate_type = SESSION_AGGREGATE

    name: str
    task_id: str


class SessionSaved(Event, frozen=True, kw_only=True):
    """The browser state after the holding task, sealed; ends the hold."""

    aggregate_type = SESSION_AGGREGATE

    name: str
    task_id: str
    state: SealedSecret
    size_bytes: int
    expires_at: datetime


class SessionReleased(Event, frozen=True, kw_only=True):
    """The hold ended without a new state (the task never opened a page, or the state was
    too large): the state saved before, if any, stays."""

    aggregate_type = SESSION_AGGREGATE

    name: str
    task_id: str
    reason: str = ""


class SessionDeleted(Event, frozen=True, kw_only=True):
    aggregate_type = SESSION_AGGREGATE

    name: str


@dataclass(frozen=True, slots=True)
class SavedSession:
    """The session folded from its events (pure: the gateway and the actuator share it)."""

    name: str = ""
    holder: str = ""  # the task holding it now ('' when free)
    claimed_at: datetime | None = None
    state: SealedSecret | None = None
    saved_by: str = ""
    saved_at: datetime | None = None
    expires_at: datetime | None = None
    size_bytes: int = 0

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def evolve_session(s: SavedSession, event: Event, at: datetime) -> SavedSession:
    """Fold one event (`at`: when it was recorded)."""
    match event:
        case SessionClaimed():
            return replace(s, name=event.name, holder=event.task_id, claimed_at=at)
        case SessionSaved() if s.holder == event.task_id:
            return replace(
                s,
                name=event.name,
                holder="",
                state=event.state,
                saved_by=event.task_id,
                saved_at=at,
                expires_at=event.expires_at,
                size_bytes=event.size_bytes,
            )
        case SessionReleased() if s.holder == event.task_id:
            return replace(s, holder="")
        case SessionDeleted():
            return SavedSession(name=event.name)
    return s


EVENTS: tuple[type[Event], ...] = (SessionClaimed, SessionSaved, SessionReleased, SessionDeleted)

"""Saved sessions in the actuator: restore a task's browser state, seal it again after.

The browser state is Playwright's `storage_state` (cookies and each origin's local storage).
It exists in plaintext only inside this process: it is sealed with the tenant's key (the
gateway's secret sealing, under `session_sealed_name`) before it is appended, and opened just
before the task's context is created. It is never logged. A state that does not open (another
tenant's, tampered, sealed under an older master key) is not used: the task starts clean.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag

from macrohard.actuator.secrets import SecretOpener, SecretSealer, SecretsUnavailable
from macrohard.contracts.envelope import Envelope, caused_by
from macrohard.contracts.sessions import (
    SESSION_AGGREGATE,
    SavedSession,
    SessionReleased,
    SessionSaved,
    evolve_session,
    session_sealed_name,
)
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.eventlog import ConcurrencyConflict
from macrohard.eventlog.store import EventStore, Loaded

log = logging.getLogger("macrohard.actuator.sessions")

# Past this a state is not saved (the hold is released, the earlier state stays): cookies and
# local storage of a logged-in site are kilobytes; megabytes mean a site stores data there.
MAX_STATE_BYTES = 1 << 20
NO_EXPIRY_TTL_S = 86400


def _fold(s: SavedSession, env: Envelope) -> SavedSession:
    return evolve_session(s, env.payload, env.occurred_at)


@dataclass
class SessionVault:
    store: EventStore
    opener: SecretOpener | None
    sealer: SecretSealer | None

    async def _load(self, tenant: str, name: str) -> Loaded[SavedSession]:
        return await self.store.load(
            _fold, SavedSession(name=name), tenant, SESSION_AGGREGATE, name
        )

    async def restore(self, tenant: str, task: TaskSubmitted) -> dict[str, Any] | None:
        """The session's saved browser state for this task's new context, if there is one
        that has not expired and opens with this tenant's key."""
        if task.session is None or self.opener is None:
            return None
        saved = (await self._load(tenant, task.session)).state
        if saved.state is None or saved.expired(datetime.now(UTC)):
            return None
        try:
            plain = self.opener(
                saved.state, tenant=tenant, task_id="", name=session_sealed_name(task.session)
            )
            state: dict[str, Any] = json.loads(plain)
        except (InvalidTag, SecretsUnavailable, ValueError, KeyError) as exc:
            # What failed, never what the state holds.
            log.warning(
                "saved session not restored",
                extra={"task": task.task_id, "session": task.session, "error": type(exc).__name__},
            )
            return None
        return state

    async def save(
        self, cause: Envelope, task: TaskSubmitted, browser_state: dict[str, Any] | None
    ) -> None:
        """End the task's hold on its session: the sealed state, or a release without one."""
        if task.session is None:
            return
        tenant, name = cause.tenant, task.session
        loaded = await self._load(tenant, name)
        if loaded.state.holder != task.task_id:
            return  # already ended (a redelivery), or the hold was never this task's
        plain = json.dumps(browser_state, separators=(",", ":")) if browser_state else ""
        event: SessionSaved | SessionReleased
        if not plain or self.sealer is None:
            event = SessionReleased(name=name, task_id=task.task_id, reason="no browser state")
        elif len(plain) > MAX_STATE_BYTES:
            reason = f"browser state too large to save ({len(plain)} > {MAX_STATE_BYTES} bytes)"
            event = SessionReleased(name=name, task_id=task.task_id, reason=reason)
        else:
            sealed = self.sealer(
                tenant=tenant, task_id="", name=session_sealed_name(name), value=plain
            )
            ttl = task.session_ttl_s or NO_EXPIRY_TTL_S
            event = SessionSaved(
                name=name,
                task_id=task.task_id,
                state=sealed,
                size_bytes=len(plain),
                expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
            )
        env = caused_by(event, cause, aggregate_id=name, purpose=f"session-end:{task.task_id}")
        try:
            await self.store.append([env], expected_version=loaded.version)
        except ConcurrencyConflict:
            if (await self._load(tenant, name)).state.holder == task.task_id:
                raise  # something else moved the session: decide again on redelivery

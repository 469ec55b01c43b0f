"""The saved session's fold: who holds it, what is saved, when it expires (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from macrohard.contracts.sessions import (
    SavedSession,
    SessionClaimed,
    SessionDeleted,
    SessionReleased,
    SessionSaved,
    evolve_session,
)
from macrohard.contracts.tasks import SealedSecret

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
SEALED = SealedSecret(key_id="k1-x", nonce="n", ciphertext="c")


def fold(*events: object) -> SavedSession:
    s = SavedSession(name="crm")
    for i, e in enumerate(events):
        s = evolve_session(s, e, T0 + timedelta(seconds=i))  # type: ignore[arg-type]
    return s


def saved(task: str, ttl: timedelta = timedelta(hours=1)) -> SessionSaved:
    return SessionSaved(name="crm", task_id=task, state=SEALED, size_bytes=9, expires_at=T0 + ttl)


def test_a_hold_ends_only_by_its_own_task_and_a_delete_forgets_the_state() -> None:
    held = fold(SessionClaimed(name="crm", task_id="t1"))
    assert held.holder == "t1" and held.state is None
    # Another task's save or release does not end t1's hold.
    assert fold(SessionClaimed(name="crm", task_id="t1"), saved("t2")).holder == "t1"
    assert fold(SessionClaimed(name="crm", task_id="t1"),
                SessionReleased(name="crm", task_id="t2")).holder == "t1"  # fmt: skip
    s = fold(SessionClaimed(name="crm", task_id="t1"), saved("t1"))
    assert (s.holder, s.saved_by, s.state) == ("", "t1", SEALED)
    # A release keeps what was saved before.
    r = fold(
        SessionClaimed(name="crm", task_id="t1"),
        saved("t1"),
        SessionClaimed(name="crm", task_id="t2"),
        SessionReleased(name="crm", task_id="t2"),
    )
    assert (r.holder, r.saved_by) == ("", "t1")
    gone = fold(SessionClaimed(name="crm", task_id="t1"), saved("t1"), SessionDeleted(name="crm"))
    assert gone.state is None and gone.saved_by == ""


def test_a_saved_state_expires_at_its_ttl() -> None:
    s = fold(SessionClaimed(name="crm", task_id="t1"), saved("t1", timedelta(minutes=5)))
    assert not s.expired(T0 + timedelta(minutes=4))
    assert s.expired(T0 + timedelta(minutes=5))

"""The console's pure parts: sealed sessions and CSRF, the recording fold, the trace tree,
car states, the usage chart's columns."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from macrohard.billing.public import DailyUsage
from macrohard.contracts import envelope
from macrohard.contracts.agent import InferenceCompleted, Intent, IntentEmitted
from macrohard.contracts.browser import ActionExecuted, PageObservation, PageObserved
from macrohard.gateway.console.recording import record
from macrohard.gateway.console.routes_account import usage_series
from macrohard.gateway.console.session import csrf_ok, new_session, seal, unseal
from macrohard.gateway.console.trace import TraceRow, trace_rows
from macrohard.gateway.secrets import decode_master_key, new_master_key
from macrohard.node_registry.public import car_state

MASTER = decode_master_key(new_master_key())
NOW = 1_800_000_000.0


@given(st.text(min_size=16, max_size=80), st.sampled_from(["tenant", "operator"]))
def test_a_sealed_session_opens_only_with_its_key_and_hides_the_credential(
    credential: str, role: str
) -> None:
    session = new_session(role, credential, now=NOW)  # type: ignore[arg-type]
    value = seal(MASTER, session)
    assert unseal(MASTER, value, now=NOW) == session
    assert credential.encode() not in base64.urlsafe_b64decode(value + "===")
    assert unseal(decode_master_key(new_master_key()), value, now=NOW) is None


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=7))
def test_a_tampered_session_is_no_session(position: int, bit: int) -> None:
    value = seal(MASTER, new_session("tenant", "mh_live_x", now=NOW))
    raw = bytearray(base64.urlsafe_b64decode(value + "==="))
    raw[position % len(raw)] ^= 1 << bit
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert unseal(MASTER, forged, now=NOW) is None


def test_sessions_expire_and_garbage_is_refused() -> None:
    session = new_session("operator", "admin", now=NOW)
    value = seal(MASTER, session)
    assert unseal(MASTER, value, now=session.expires_at - 1) is not None
    assert unseal(MASTER, value, now=session.expires_at + 1) is None
    for junk in (None, "", "not-base64!!", "A" * 5000, "AAAA"):
        assert unseal(MASTER, junk, now=NOW) is None


def test_csrf_token_must_match_the_session() -> None:
    a, b = new_session("tenant", "k", now=NOW), new_session("tenant", "k", now=NOW)
    assert csrf_ok(a, a.csrf)
    assert not csrf_ok(a, b.csrf)
    assert not csrf_ok(a, None)
    assert not csrf_ok(a, "")


def _page(title: str, shot: str) -> PageObservation:
    return PageObservation(
        url=f"http://site/{title}", title=title, elements=[], screenshot_sha256=shot
    )


def test_a_recording_shows_what_each_step_saw_chose_did_and_which_car_decided() -> None:
    t, task = "tn_a", "task-1"

    def env(event: object) -> object:
        return envelope(event, tenant=t, aggregate_id=task)  # type: ignore[arg-type]

    events = [
        (1, env(PageObserved(task_id=task, step=0, observation=_page("start", "s0")))),
        (
            2,
            env(
                InferenceCompleted(
                    task_id=task,
                    step=1,
                    model="planner",
                    node_id="car-9",
                    owner_account="o",
                    lease_id="l",
                    compute_ms=12.5,
                    input_bytes=1,
                    output_bytes=1,
                )
            ),
        ),
        (
            3,
            env(
                IntentEmitted(
                    task_id=task,
                    step=1,
                    element_label="button 'Go'",
                    intent=Intent(action="click", element=4),
                )
            ),
        ),
        (5, env(PageObserved(task_id=task, step=1, observation=_page("next", "s1")))),
        (
            4,
            env(
                ActionExecuted(
                    task_id=task,
                    step=1,
                    intent_event_id="x",
                    action="click",
                    ok=True,
                    duration_ms=30.0,
                )
            ),
        ),
        (6, env(IntentEmitted(task_id=task, step=2, intent=Intent(action="done")))),
    ]
    rec = record(events)  # type: ignore[arg-type]
    first, second = rec.steps
    assert first.saw is not None and first.saw.screenshot == "s0"
    assert first.element == "button 'Go'" and first.ok is True and first.duration_ms == 30.0
    assert [(c.node_id, c.compute_ms) for c in first.calls] == [("car-9", 12.5)]
    assert first.after is not None and first.after.screenshot == "s1"
    assert second.saw == first.after and second.ok is None  # not carried out yet
    assert rec.screenshots() == {"s0", "s1"}
    assert first.seq == 3


def _row(seq: int, cause: str | None, at: float) -> TraceRow:
    base = datetime(2026, 11, 30, tzinfo=UTC)
    return TraceRow(
        seq=seq,
        event_id=f"e{seq}",
        type=f"T{seq}",
        tenant="t",
        aggregate_type="task",
        aggregate_id="a",
        correlation_id="c",
        causation_id=cause,
        occurred_at=base + timedelta(milliseconds=at),
    )


def test_a_trace_is_a_causation_tree_in_log_order_with_offsets() -> None:
    rows = [
        _row(3, "e1", 30),
        _row(1, None, 0),
        _row(2, "e1", 10),
        _row(4, "e2", 50),
        _row(5, "elsewhere", 60),
        _row(6, "e6", 70),
    ]
    out = trace_rows(rows)
    assert [(r.seq, r.depth) for r in out] == [(1, 0), (2, 1), (4, 2), (3, 1), (5, 0), (6, 0)]
    assert [r.offset_ms for r in out][:3] == [0.0, 10.0, 50.0]


def test_a_car_has_one_state_lost_first() -> None:
    base = dict(lost=False, parked=True, charging=False, throttled=False, soc=0.8, soc_floor=0.2)
    assert car_state(**base) == "parked"  # type: ignore[arg-type]
    assert car_state(**{**base, "lost": True, "parked": False}) == "lost"  # type: ignore[arg-type]
    assert car_state(**{**base, "parked": False}) == "driving"  # type: ignore[arg-type]
    assert car_state(**{**base, "charging": True, "soc": 0.1}) == "charging"  # type: ignore[arg-type]
    assert car_state(**{**base, "soc": 0.2}) == "low_battery"  # type: ignore[arg-type]
    assert car_state(**{**base, "throttled": True}) == "throttled"  # type: ignore[arg-type]


def test_usage_series_are_columns_per_meter_with_gaps_as_zero() -> None:
    days = [
        DailyUsage(day="2026-11-02", meter="steps", quantity=3, amount="0"),
        DailyUsage(day="2026-11-01", meter="actions", quantity=5, amount="0"),
        DailyUsage(day="2026-11-02", meter="actions", quantity=2, amount="0"),
    ]
    chart = usage_series(days, "2026-11")
    assert chart["meters"] == ["actions", "steps"]
    assert chart["series"] == [[5.0, 2.0], [0.0, 3.0]]
    assert chart["x"][1] - chart["x"][0] == 86400
    start, end = chart["range"]
    assert chart["x"][0] == start and (end - start) == 29 * 86400  # November's 30 days

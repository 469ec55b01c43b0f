"""Pure parts of the gateway: keys, sealing, the task fold, idempotency, rate limit, signing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.tasks import (
    TaskCancelled,
    TaskCompleted,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
)
from macrohard.gateway import keys
from macrohard.gateway.domain import (
    TokenBucket,
    domain_allowed,
    evolve_task,
    fold_task,
    idempotency_outcome,
    idempotent_task_id,
    request_fingerprint,
    sign_webhook,
    verify_webhook,
)
from macrohard.gateway.secrets import decode_master_key, new_master_key, open_secret, seal_secret

MASTER = decode_master_key(new_master_key())


def test_keys_are_recognisable_and_checksummed() -> None:
    k = keys.mint()
    assert k.secret.startswith("mh_live_") and keys.well_formed(k.secret)
    assert k.key_hash == keys.hash_key(k.secret) and k.secret not in k.preview
    assert len({keys.mint().secret for _ in range(50)}) == 50


@given(st.integers(min_value=0, max_value=35), st.sampled_from("0123456789abcXYZ"))
def test_any_single_character_change_fails_the_checksum(pos: int, char: str) -> None:
    secret = keys.mint().secret
    i = len(keys.KEY_PREFIX) + pos
    changed = secret[:i] + char + secret[i + 1 :]
    assert keys.well_formed(changed) == (changed == secret)


@given(st.text(max_size=200), st.text(min_size=1, max_size=20))
def test_seal_roundtrip_and_binding(value: str, name: str) -> None:
    sealed = seal_secret(MASTER, "tn_a", "task1", name, value)
    assert open_secret(sealed, tenant="tn_a", task_id="task1", name=name, master=MASTER) == value
    with pytest.raises(InvalidTag):  # another tenant's key cannot open it
        open_secret(sealed, tenant="tn_b", task_id="task1", name=name, master=MASTER)
    with pytest.raises(InvalidTag):  # nor can it be moved to another task
        open_secret(sealed, tenant="tn_a", task_id="task2", name=name, master=MASTER)


def _env(event, at: datetime):  # type: ignore[no-untyped-def]
    return envelope(event, tenant="tn", aggregate_id="t1", occurred_at=at)


T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUBMITTED = TaskSubmitted(task_id="t1", goal="g", start_url="https://x.test/")
ENDINGS = [
    TaskCompleted(task_id="t1", steps=2, result="r"),
    TaskFailed(task_id="t1", steps=2, reason="f"),
    TaskCancelled(task_id="t1", steps=2),
]


@given(st.lists(st.sampled_from([TaskStarted(task_id="t1", backend="b"), *ENDINGS]), max_size=8))
def test_fold_terminal_status_never_regresses(tail: list) -> None:  # type: ignore[type-arg]
    events = [_env(SUBMITTED, T0)] + [
        _env(e, T0 + timedelta(seconds=i)) for i, e in enumerate(tail)
    ]
    view = fold_task(events)
    assert view is not None
    first_end = next((e for e in tail if e in ENDINGS), None)
    expected = {TaskCompleted: "completed", TaskFailed: "failed", TaskCancelled: "cancelled"}
    if first_end is None:
        assert view.status == ("running" if tail else "submitted")
    else:
        assert view.status == expected[type(first_end)]


def test_fold_ignores_events_before_submission_and_orders_steps() -> None:
    assert evolve_task(None, _env(TaskStarted(task_id="t1", backend="b"), T0)) is None
    steps = [IntentEmitted(task_id="t1", step=n, intent=Intent(action="click")) for n in (2, 1)]
    view = fold_task([_env(SUBMITTED, T0), *(_env(s, T0) for s in steps)])
    assert view is not None and [s.step for s in view.steps] == [1, 2] and view.steps_taken == 2


KEY = b"k" * 32


def test_idempotency_rules() -> None:
    a = request_fingerprint(KEY, b'{"goal": "x", "max_steps": 3}')
    assert a == request_fingerprint(KEY, b'{"max_steps":3,"goal":"x"}')
    assert idempotency_outcome(a, a) == "replay"
    assert idempotency_outcome(a, request_fingerprint(KEY, b'{"goal":"y"}')) == "mismatch"
    assert idempotency_outcome(None, a) == "mismatch"
    assert idempotent_task_id("t1", "k") == idempotent_task_id("t1", "k")
    assert idempotent_task_id("t1", "k") != idempotent_task_id("t2", "k")


@given(st.floats(min_value=0.5, max_value=1000), st.integers(min_value=1, max_value=50))
def test_token_bucket_allows_burst_then_paces(rate: float, burst: int) -> None:
    bucket = TokenBucket(rate=rate, burst=float(burst))
    assert all(bucket.take(0.0) == 0.0 for _ in range(burst))
    wait = bucket.take(0.0)
    assert wait == pytest.approx(1 / rate)
    assert bucket.take(wait) == 0.0


def test_webhook_signature() -> None:
    body = b'{"task_id":"t1"}'
    header = sign_webhook("whsec_x", body, 1_000)
    assert verify_webhook("whsec_x", body, header, now=1_010)
    assert not verify_webhook("whsec_x", body + b" ", header, now=1_010)
    assert not verify_webhook("whsec_y", body, header, now=1_010)
    assert not verify_webhook("whsec_x", body, header, now=2_000)  # too old: replay refused
    assert not verify_webhook("whsec_x", body, "garbage", now=1_000)


def test_domain_allowlist() -> None:
    allowed = ("example.com", "*.corp.test")
    assert domain_allowed("example.com", allowed) and domain_allowed("a.b.example.com", allowed)
    assert not domain_allowed("badexample.com", allowed)
    assert not domain_allowed("example.com.evil.test", allowed)
    assert domain_allowed("x.corp.test", allowed) and not domain_allowed("corp.test", allowed)
    assert domain_allowed("anything.test", ())

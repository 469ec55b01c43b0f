"""Contracts: wire round trips, upcasting, subjects, derived ids, the committed schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from macrohard.contracts import (
    ALL_EVENTS,
    REGISTRY,
    FutureSchemaVersion,
    InvalidSubjectToken,
    UnknownEventType,
    caused_by,
    derived_event_id,
    envelope,
    event_subject,
    parse_subject,
    subject_of,
)
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.schema import contract_schema_json
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.contracts.tenancy import TenantOnboarded

ROOT = Path(__file__).parents[2]
token = st.from_regex(r"[A-Za-z0-9_\-]{1,20}", fullmatch=True)


@given(
    tenant=token,
    task_id=token,
    goal=st.text(max_size=200),
    inputs=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=5),
    max_steps=st.integers(min_value=1, max_value=500),
)
def test_envelope_round_trips_through_the_wire(
    tenant: str, task_id: str, goal: str, inputs: dict[str, str], max_steps: int
) -> None:
    event = TaskSubmitted(
        task_id=task_id,
        goal=goal,
        start_url="https://example.com",
        inputs=inputs,
        max_steps=max_steps,
    )
    env = envelope(event, tenant=tenant, aggregate_id=task_id)
    assert REGISTRY.decode(REGISTRY.encode(env)) == env
    assert parse_subject(subject_of(env)) == (tenant, "task", task_id, "TaskSubmitted")


def test_every_event_type_is_registered_once_with_an_aggregate() -> None:
    names = [cls.__name__ for cls in ALL_EVENTS]
    assert len(names) == len(set(names))
    for cls in ALL_EVENTS:
        assert cls.aggregate_type and cls.schema_version >= 1
        assert REGISTRY.payload_class(cls.__name__) is cls


def test_wire_is_json_a_human_can_read() -> None:
    env = envelope(
        IntentEmitted(task_id="t1", step=1, intent=Intent(action="click", element=3)),
        tenant="acme",
        aggregate_id="t1",
    )
    obj = msgspec.json.decode(REGISTRY.encode(env))
    assert obj["type"] == "IntentEmitted"
    assert obj["payload"]["intent"] == {"action": "click", "element": 3}


def test_v1_tenant_onboarded_is_upcast_on_read() -> None:
    raw = {
        "id": str(uuid.uuid4()),
        "type": "TenantOnboarded",
        "schema_version": 1,
        "tenant": "acme",
        "aggregate_type": "tenant",
        "aggregate_id": "acme",
        "occurred_at": "2026-01-01T00:00:00Z",
        "correlation_id": "c",
        "payload": {
            "tenant_id": "acme",
            "name": "Acme",
            "plan": "starter",
            "allowed_domains": ["acme.com"],
            "budget": 250.75,
        },
    }
    env = REGISTRY.decode(msgspec.json.encode(raw))
    assert env.schema_version == TenantOnboarded.schema_version == 2
    assert env.payload == TenantOnboarded(
        tenant_id="acme",
        name="Acme",
        plan="starter",
        allowed_domains=["acme.com"],
        monthly_budget="250.75",
        currency="USD",
    )


def test_newer_schema_and_unknown_types_are_refused() -> None:
    env = envelope(
        TaskSubmitted(task_id="t", goal="g", start_url="https://e"), tenant="a", aggregate_id="t"
    )
    obj = msgspec.json.decode(REGISTRY.encode(env))
    obj["schema_version"] = 99
    with pytest.raises(FutureSchemaVersion):
        REGISTRY.decode(msgspec.json.encode(obj))
    obj["type"] = "NoSuchEvent"
    with pytest.raises(UnknownEventType):
        REGISTRY.decode(msgspec.json.encode(obj))


@pytest.mark.parametrize("bad", ["", "a.b", "a b", "*", ">", "x" * 129, "ünï"])
def test_subject_tokens_are_validated(bad: str) -> None:
    with pytest.raises(InvalidSubjectToken):
        event_subject(bad, "task", "t1", "TaskSubmitted")
    with pytest.raises(InvalidSubjectToken):
        event_subject("acme", "task", bad, "TaskSubmitted")


@given(purpose=st.text(min_size=1, max_size=30))
def test_derived_ids_are_deterministic_v7_and_follow_their_cause(purpose: str) -> None:
    cause = envelope(
        TaskSubmitted(task_id="t", goal="g", start_url="https://e"), tenant="a", aggregate_id="t"
    )
    one = derived_event_id(cause.id, purpose)
    assert one == derived_event_id(cause.id, purpose)
    assert one != derived_event_id(cause.id, purpose + "x")
    parsed = uuid.UUID(one)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == uuid.UUID(cause.id).int >> 80  # same millisecond timestamp


def test_caused_by_carries_correlation_and_causation() -> None:
    cause = envelope(
        TaskSubmitted(task_id="t", goal="g", start_url="https://e"),
        tenant="a",
        aggregate_id="t",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    effect = caused_by(
        IntentEmitted(task_id="t", step=1, intent=Intent(action="done")),
        cause,
        aggregate_id="t",
        purpose="step-1",
    )
    assert effect.correlation_id == cause.correlation_id == cause.id
    assert effect.causation_id == cause.id and effect.tenant == "a"
    again = caused_by(
        IntentEmitted(task_id="t", step=1, intent=Intent(action="done")),
        cause,
        aggregate_id="t",
        purpose="step-1",
    )
    assert again.id == effect.id


def test_committed_schema_is_in_step_with_the_code() -> None:
    committed = (ROOT / "contracts/schema/contracts.schema.json").read_bytes()
    assert committed == contract_schema_json(), "run `mh contracts schema` and commit the result"

"""A task: the unit of work a tenant hands the platform (gateway submits, planner runs it)."""

from __future__ import annotations

import msgspec

from macrohard.contracts.envelope import Event


class SealedSecret(msgspec.Struct, frozen=True, kw_only=True):
    """A secret encrypted with the tenant's key (AES-GCM); only the actuator opens it."""

    key_id: str
    nonce: str
    ciphertext: str


class TaskSubmitted(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    goal: str
    start_url: str
    inputs: dict[str, str] = {}
    secrets: dict[str, SealedSecret] = {}
    max_steps: int = 30
    webhook_url: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None


class TaskCancelRequested(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    reason: str = ""


class TaskStarted(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    backend: str


class TaskCompleted(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    steps: int
    result: str = ""
    # How the steps were decided: replayed from the tenant's playbook, or asked of the model.
    replayed_steps: int = 0
    model_steps: int = 0


class TaskFailed(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    steps: int
    reason: str
    replayed_steps: int = 0
    model_steps: int = 0


class TaskCancelled(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    steps: int
    reason: str = ""


EVENTS: tuple[type[Event], ...] = (
    TaskSubmitted,
    TaskCancelRequested,
    TaskStarted,
    TaskCompleted,
    TaskFailed,
    TaskCancelled,
)

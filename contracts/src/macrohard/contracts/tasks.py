"""A task: the unit of work a tenant hands the platform (gateway submits, planner runs it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from macrohard.contracts.approvals import ApprovalPolicy
from macrohard.contracts.artifacts import TaskFile
from macrohard.contracts.envelope import Event


class SealedSecret(msgspec.Struct, frozen=True, kw_only=True):
    """A secret encrypted with the tenant's key (AES-GCM); only the actuator opens it."""

    key_id: str
    nonce: str
    ciphertext: str


def totp_sealed_name(name: str) -> str:
    """The name a TOTP seed is sealed under (part of the associated data): its own namespace,
    so a secret and a seed of the same name can never be opened as each other."""
    return f"totp:{name}"


class TaskSubmitted(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    goal: str
    start_url: str
    inputs: dict[str, str] = {}
    secrets: dict[str, SealedSecret] = {}
    # TOTP seeds (base32), sealed like secrets under `totp_sealed_name(name)`: typed as
    # `{{totp:NAME}}`, they become the current RFC 6238 code inside the actuator only.
    totp_seeds: dict[str, SealedSecret] = {}
    max_steps: int = 30
    webhook_url: str | None = None
    # How long each step may wait for a free car before the task fails (the tenant's choice):
    # a busy or restarting fleet delays work, it does not fail it.
    car_wait_s: float = 300.0
    idempotency_key: str | None = None
    request_hash: str | None = None
    # Set on the tasks a schedule submits: which schedule, and the tick it runs for.
    schedule_id: str | None = None
    scheduled_for: datetime | None = None
    # JSON Schema of the structured result the task must end with (`TaskCompleted.output`).
    output_schema: dict[str, Any] | None = None
    # A saved session (contracts/sessions.py) the task starts from and saves into; the
    # gateway claimed it for this task. `session_ttl_s`: how long the saved state lives
    # (the tenant's plan).
    session: str | None = None
    session_ttl_s: int = 0
    # Files (artifacts of the tenant) the task brings for its `upload` steps, by name.
    files: list[TaskFile] = []


class TaskCancelRequested(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    reason: str = ""


class TaskStarted(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    backend: str
    # The tenant's approval policy in force when the run started (None: no step needs one).
    approval: ApprovalPolicy | None = None


class TaskCompleted(Event, frozen=True, kw_only=True):
    aggregate_type = "task"

    task_id: str
    steps: int
    result: str = ""
    # The structured result, valid against the task's output_schema (None when it has none).
    output: Any = None
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


class WebhookAttempted(Event, frozen=True, kw_only=True):
    """One try at delivering a task's end to its webhook (gateway). The aggregate id is the
    delivery id (the id of the event that ended the task), so a delivery's tries fold
    together; `status_code` is 0 when no HTTP answer came (`error` says why)."""

    aggregate_type = "webhook"

    task_id: str
    url: str
    attempt: int
    status_code: int
    ok: bool
    error: str = ""
    signature: str = ""  # the Macrohard-Signature header sent (an HMAC, not the secret)
    duration_ms: float = 0.0


EVENTS: tuple[type[Event], ...] = (
    TaskSubmitted,
    TaskCancelRequested,
    TaskStarted,
    TaskCompleted,
    TaskFailed,
    TaskCancelled,
    WebhookAttempted,
)

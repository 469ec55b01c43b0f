"""Pure decisions of the gateway: the task read model fold, idempotency, rate limit, signing.

No I/O here: the projection and the read-through path both fold events with `evolve_task`,
so what GET /v1/tasks/{id} shows is the same whichever of the two answered.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec

from macrohard.contracts.agent import InferenceCompleted, Intent, IntentEmitted
from macrohard.contracts.approvals import TaskApproved, TaskNeedsApproval
from macrohard.contracts.artifacts import ArtifactStored, DownloadRefused
from macrohard.contracts.browser import ActionExecuted, PageObserved
from macrohard.contracts.domains import host_in_allowlist
from macrohard.contracts.envelope import Envelope
from macrohard.contracts.tasks import (
    TaskCancelled,
    TaskCancelRequested,
    TaskCompleted,
    TaskFailed,
    TaskStarted,
    TaskSubmitted,
)
from macrohard.eventlog import egress

TaskStatus = Literal[
    "submitted", "running", "awaiting_approval", "completed", "failed", "cancelled"
]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class ActionResult(msgspec.Struct, kw_only=True):
    action: str
    ok: bool
    error: str = ""
    duration_ms: float = 0.0


class ObservationSummary(msgspec.Struct, kw_only=True):
    """What a step saw, without the element list (that stays in the log)."""

    url: str
    title: str
    elements: int
    screenshot_sha256: str | None = None


class StepView(msgspec.Struct, kw_only=True):
    step: int
    intent: Intent | None = None
    backend: str = ""
    result: ActionResult | None = None
    observation: ObservationSummary | None = None


class TaskUsage(msgspec.Struct, kw_only=True):
    inferences: int = 0
    compute_ms: float = 0.0
    input_bytes: int = 0
    output_bytes: int = 0
    energy_wh: float = 0.0


class PendingApproval(msgspec.Struct, kw_only=True):
    """The step a paused task holds for the tenant (answer: POST /v1/tasks/{id}/approval)."""

    step: int
    intent: Intent
    element_label: str = ""
    page_url: str = ""
    why: str = ""


class ArtifactView(msgspec.Struct, kw_only=True):
    """A file of the tenant's: fetched with `GET /v1/artifacts/{artifact_id}`."""

    artifact_id: str  # SHA-256 of the bytes, hex
    name: str
    content_type: str
    size: int
    source: str  # "download" (a task's page) or "upload" (the API)
    task_id: str = ""
    url: str = ""
    stored_at: datetime | None = None
    deleted: bool = False


class RefusedFile(msgspec.Struct, kw_only=True):
    """A download the task's page started that was not kept (past the plan's limits)."""

    name: str
    content_type: str
    size: int
    reason: str


class TaskView(msgspec.Struct, kw_only=True):
    """A task as the API shows it. Secrets appear by name only, never by value."""

    task_id: str
    status: TaskStatus
    goal: str
    start_url: str
    inputs: dict[str, str]
    secret_names: list[str]
    max_steps: int
    webhook_url: str | None
    submitted_at: datetime
    updated_at: datetime
    cancel_requested: bool = False
    backend: str = ""
    result: str = ""
    reason: str = ""
    steps_taken: int = 0
    steps: list[StepView] = []
    usage: TaskUsage = msgspec.field(default_factory=TaskUsage)
    totp_names: list[str] = []
    pending_approval: PendingApproval | None = None
    schedule_id: str | None = None
    output_schema: dict[str, Any] | None = None
    output: Any = None  # the structured result, valid against output_schema
    session: str | None = None  # the saved session it starts from and saves into
    # Files: those the task brought for its uploads, those its pages downloaded (kept as
    # artifacts), and downloads refused past the plan's limits.
    files: list[ArtifactView] = []
    artifacts: list[ArtifactView] = []
    refused_files: list[RefusedFile] = []


def _step(view: TaskView, number: int) -> StepView:
    for s in view.steps:
        if s.step == number:
            return s
    s = StepView(step=number)
    view.steps.append(s)
    view.steps.sort(key=lambda x: x.step)
    return s


def evolve_task(view: TaskView | None, env: Envelope) -> TaskView | None:
    """Fold one task or browser event into the view (mutates and returns it).

    Events before TaskSubmitted (impossible in a well-formed log) are ignored rather than
    raised: a read model must never stop on one odd event. Terminal statuses never regress.
    """
    p = env.payload
    if isinstance(p, TaskSubmitted):
        if view is not None:
            return view
        return TaskView(
            task_id=p.task_id,
            status="submitted",
            goal=p.goal,
            start_url=p.start_url,
            inputs=dict(p.inputs),
            secret_names=sorted(p.secrets),
            totp_names=sorted(p.totp_seeds),
            schedule_id=p.schedule_id,
            output_schema=p.output_schema,
            session=p.session,
            files=[
                ArtifactView(
                    artifact_id=f.artifact_id,
                    name=f.name,
                    content_type=f.content_type,
                    size=f.size,
                    source="upload",
                )
                for f in p.files
            ],
            max_steps=p.max_steps,
            webhook_url=p.webhook_url,
            submitted_at=env.occurred_at,
            updated_at=env.occurred_at,
        )
    if view is None:
        return None
    view.updated_at = max(view.updated_at, env.occurred_at)
    final = view.status in TERMINAL
    if isinstance(p, TaskStarted):
        view.backend = p.backend
        if view.status == "submitted":
            view.status = "running"
    elif isinstance(p, TaskCancelRequested):
        view.cancel_requested = True
    elif isinstance(p, TaskNeedsApproval):
        if not final:
            view.status = "awaiting_approval"
            view.pending_approval = PendingApproval(
                step=p.step, intent=p.intent, element_label=p.element_label,
                page_url=p.page_url, why=p.why,
            )  # fmt: skip
    elif isinstance(p, TaskApproved):
        if view.status == "awaiting_approval":
            view.status = "running"
            view.pending_approval = None
    elif isinstance(p, TaskCompleted | TaskFailed | TaskCancelled):
        if not final:
            view.status = (
                "completed"
                if isinstance(p, TaskCompleted)
                else "failed"
                if isinstance(p, TaskFailed)
                else "cancelled"
            )
            view.steps_taken = p.steps
            view.pending_approval = None
            if isinstance(p, TaskCompleted):
                view.result = p.result
                view.output = p.output
            else:
                view.reason = tenant_text(p.reason)
    elif isinstance(p, IntentEmitted):
        s = _step(view, p.step)
        s.intent, s.backend = p.intent, p.backend
        view.steps_taken = max(view.steps_taken, p.step)
    elif isinstance(p, InferenceCompleted):
        u = view.usage
        u.inferences += 1
        u.compute_ms += p.compute_ms
        u.input_bytes += p.input_bytes
        u.output_bytes += p.output_bytes
        u.energy_wh += p.energy_wh
    elif isinstance(p, ActionExecuted):
        _step(view, p.step).result = ActionResult(
            action=p.action, ok=p.ok, error=tenant_text(p.error), duration_ms=p.duration_ms
        )
    elif isinstance(p, ArtifactStored):
        if not any(a.artifact_id == p.artifact_id for a in view.artifacts):
            view.artifacts.append(artifact_view(p, env))
    elif isinstance(p, DownloadRefused):
        view.refused_files.append(
            RefusedFile(name=p.name, content_type=p.content_type, size=p.size, reason=p.reason)
        )
    elif isinstance(p, PageObserved):
        o = p.observation
        _step(view, p.step).observation = ObservationSummary(
            url=o.url,
            title=o.title,
            elements=len(o.elements),
            screenshot_sha256=o.screenshot_sha256,
        )
    return view


def artifact_view(p: ArtifactStored, env: Envelope) -> ArtifactView:
    return ArtifactView(
        artifact_id=p.artifact_id, name=p.name, content_type=p.content_type, size=p.size,
        source=p.source, task_id=p.task_id, url=p.url, stored_at=env.occurred_at,
    )  # fmt: skip


def fold_task(events: list[Envelope]) -> TaskView | None:
    view: TaskView | None = None
    for env in events:
        view = evolve_task(view, env)
    return view


# --- idempotency (Stripe semantics) -------------------------------------------------------


def request_fingerprint(key: bytes, body: bytes) -> str:
    """HMAC-SHA256 of the canonical request under a server key: same content, same print.

    Keyed because the request holds the task's secrets in plain text and the fingerprint
    is stored in the log: a bare hash could be brute-forced back into a weak password.
    """
    canonical = msgspec.json.encode(_sorted(msgspec.json.decode(body)))
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


_IDEMPOTENCY_NAMESPACE = uuid.UUID("5b1f0e36-8a4c-4a4e-9a65-3f6f3c1f2a11")


def idempotent_task_id(tenant: str, idempotency_key: str) -> str:
    """The task id an Idempotency-Key maps to: the log itself then decides who was first
    (append with expected version 0), across every gateway replica, with no extra table."""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{tenant}\x00{idempotency_key}"))


IdempotencyOutcome = Literal["replay", "mismatch"]


def idempotency_outcome(stored_fingerprint: str | None, fingerprint: str) -> IdempotencyOutcome:
    same = stored_fingerprint is not None and hmac.compare_digest(stored_fingerprint, fingerprint)
    return "replay" if same else "mismatch"


# --- domains ------------------------------------------------------------------------------


def domain_allowed(host: str, allowed: tuple[str, ...] | list[str]) -> bool:
    """`example.com` allows itself and its subdomains; `*.example.com` only the subdomains.
    An empty list sets no limit here (the actuator still refuses private addresses)."""
    return not allowed or host_in_allowlist(host, allowed)


# --- rate limit ----------------------------------------------------------------------------


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens per second up to `burst`. `take` returns 0 or the seconds to wait."""

    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    stamp: float = 0.0

    def take(self, now: float) -> float:
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        # The epsilon: a client that waited exactly the advertised time must get through,
        # not lose to float rounding in the refill.
        if self.tokens >= 1.0 - 1e-9:
            self.tokens = max(0.0, self.tokens - 1.0)
            return 0.0
        return (1.0 - self.tokens) / self.rate


# --- webhooks ------------------------------------------------------------------------------

SIGNATURE_HEADER = "Macrohard-Signature"


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the timestamp is signed too,
    so a captured delivery cannot be replayed later with a fresh time."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_webhook(
    secret: str, body: bytes, header: str, *, now: int, tolerance_s: int = 300
) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - ts) > tolerance_s:
        return False
    expected = sign_webhook(secret, body, ts).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def webhook_backoff(attempt: int) -> float:
    """Seconds before delivery attempt `attempt + 1`: 1, 4, 16, 64, 256 (capped)."""
    return float(min(4 ** (attempt - 1), 256))


# --- what a tenant may see of its own task ------------------------------------------------

# Payload fields that are the platform's business, not the tenant's: which car served a
# call and who owns it, leases, sealed secrets and the request's fingerprint.
INTERNAL_FIELDS = frozenset(
    {"node_id", "owner_account", "lease_id", "secrets", "request_hash", "energy_wh"}
)
# Free texts that may quote an internal error (a car's, a proxy's, an address).
TEXT_FIELDS = ("reason", "error", "previous_error")
_ADDRESS = re.compile(r"\[?[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]+\]?(?::\d+)?")


def tenant_text(text: str) -> str:
    """A failure text with every internal address in it replaced by `[internal]`."""

    def one(match: re.Match[str]) -> str:
        candidate = match.group(0)
        if candidate.startswith("[") and "]" in candidate:
            host = candidate[1 : candidate.index("]")]
        elif candidate.count(":") == 1:
            host = candidate.rsplit(":", 1)[0]
        else:
            host = candidate
        literal = egress.literal_address(host)
        if literal is not None and egress.address_refusal(literal):
            return "[internal]"
        return candidate

    return _ADDRESS.sub(one, text)


def tenant_event(document: dict[str, Any]) -> dict[str, Any]:
    """An event as its tenant sees it (SSE): the envelope, the payload less internals."""
    payload = {
        key: tenant_text(value) if key in TEXT_FIELDS and isinstance(value, str) else value
        for key, value in (document.get("payload") or {}).items()
        if key not in INTERNAL_FIELDS
    }
    return {**document, "payload": payload}

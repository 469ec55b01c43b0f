"""What the gateway reacts to: a task's end, delivered to its `webhook_url`, signed.

A durable consumer of TaskCompleted/Failed/Cancelled. A delivery that fails (network error,
non-2xx) raises, so the kernel's consumer redelivers it with backoff (1, 4, 16, 64, 256 s)
and dead-letters it after the last attempt. Delivery is at least once: receivers de-duplicate
on `Macrohard-Delivery`, the id of the event that ended the task.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import msgspec

from macrohard.contracts.approvals import TaskNeedsApproval
from macrohard.contracts.envelope import RecordedEvent, derived_event_id, envelope
from macrohard.contracts.subjects import type_filter
from macrohard.contracts.tasks import TaskCompleted, TaskFailed, TaskSubmitted, WebhookAttempted
from macrohard.eventlog import ConcurrencyConflict, ConsumerSpec, EventStore, egress
from macrohard.gateway.domain import (
    SIGNATURE_HEADER,
    PendingApproval,
    sign_webhook,
    tenant_text,
    webhook_backoff,
)
from macrohard.gateway.secrets import webhook_signing_key

log = logging.getLogger("macrohard.gateway.webhooks")

WEBHOOK_CONSUMER = ConsumerSpec(
    durable="gateway-webhooks",
    subjects=[
        type_filter("TaskCompleted", aggregate_type="task"),
        type_filter("TaskFailed", aggregate_type="task"),
        type_filter("TaskCancelled", aggregate_type="task"),
        type_filter("TaskNeedsApproval", aggregate_type="task"),
    ],
    max_deliver=6,
    backoff_s=tuple(webhook_backoff(a) for a in range(1, 6)),
    description="delivers a task's final status, and each pause for approval, to its "
    "webhook_url (HMAC-SHA256 signed)",
)


class WebhookBody(msgspec.Struct, kw_only=True):
    delivery_id: str
    task_id: str
    status: str
    steps: int
    result: str = ""
    reason: str = ""
    occurred_at: str
    # Set when status is "awaiting_approval": the held step, to answer via the API.
    pending_approval: PendingApproval | None = None
    output: Any = None  # the structured result of a completed task with an output_schema


class WebhookRefused(RuntimeError):
    """A delivery the receiver did not accept; raised so the consumer retries with backoff."""


class WebhookDelivery:
    def __init__(
        self, store: EventStore, master_key: bytes, *, allow_private: bool = False
    ) -> None:
        self._store = store
        self._master = master_key
        # Local test mode lets webhooks reach loopback (the tests' receivers); private,
        # link-local and metadata addresses stay refused even then (one egress policy).
        self._allow_loopback = allow_private
        self._resolver = egress.Resolver()
        # No redirects: a 30x to an internal address would bypass the check.
        self._http = httpx.AsyncClient(timeout=10.0, trust_env=False, follow_redirects=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def __call__(self, rec: RecordedEvent) -> None:
        env, p = rec.envelope, rec.payload
        task_id = env.aggregate_id
        first = await self._store.read_aggregate(
            env.tenant, "task", task_id, up_to_seq=rec.sequence
        )
        submitted = first[0].payload if first else None
        if not isinstance(submitted, TaskSubmitted) or not submitted.webhook_url:
            return
        try:
            target, address = await self._checked(submitted.webhook_url)
        except egress.EgressRefused as exc:
            # Permanent: retrying cannot make the address public. Nothing is sent.
            log.warning("webhook refused", extra={"task_id": task_id, "reason": exc.reason})
            return
        status = {
            "TaskCompleted": "completed",
            "TaskFailed": "failed",
            "TaskNeedsApproval": "awaiting_approval",
        }.get(env.type, "cancelled")
        pending = None
        if isinstance(p, TaskNeedsApproval):
            pending = PendingApproval(step=p.step, intent=p.intent, element_label=p.element_label,
                                      page_url=p.page_url, why=p.why)  # fmt: skip
        body = msgspec.json.encode(
            WebhookBody(
                delivery_id=env.id,
                task_id=task_id,
                status=status,
                steps=getattr(p, "steps", 0),
                result=p.result if isinstance(p, TaskCompleted) else "",
                reason=tenant_text(
                    p.reason if isinstance(p, TaskFailed) else getattr(p, "reason", "")
                ),
                occurred_at=env.occurred_at.isoformat(),
                pending_approval=pending,
                output=p.output if isinstance(p, TaskCompleted) else None,
            )
        )
        secret = webhook_signing_key(self._master, env.tenant)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_webhook(secret, body, int(time.time())),
            "Macrohard-Delivery": env.id,
        }
        # Dial the address that was checked, never the name again (DNS rebinding); the
        # name still goes in Host and, for https, in SNI and certificate verification.
        name = f"[{target.host}]" if ":" in target.host else target.host
        default_port = {"http": 80, "https": 443}[target.scheme]
        headers["Host"] = name if target.port == default_port else f"{name}:{target.port}"
        pinned = httpx.URL(target.href).copy_with(host=address)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        url = submitted.webhook_url
        tries = await self._store.read_aggregate(env.tenant, "webhook", env.id)
        started = time.monotonic()
        code, error = 0, ""
        try:
            response = await self._http.post(
                pinned, content=body, headers=headers, extensions=extensions
            )
            code = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        ok = not error and 200 <= code < 300
        attempt = WebhookAttempted(
            task_id=task_id, url=url, attempt=len(tries) + 1, status_code=code, ok=ok,
            error=error, signature=headers[SIGNATURE_HEADER],
            duration_ms=(time.monotonic() - started) * 1000,
        )  # fmt: skip
        await self._record(rec, attempt, tries[-1].sequence if tries else 0)
        if error:
            raise WebhookRefused(f"{task_id}: {error}")
        if not ok:
            raise WebhookRefused(f"{task_id}: receiver answered {code}")
        log.info("webhook delivered", extra={"task_id": task_id, "status": status})

    async def _checked(self, url: str) -> tuple[egress.Target, str]:
        """The webhook's parsed URL and the one address to dial, by the egress policy."""
        target = egress.parse_url(url)
        if target.scheme not in ("http", "https"):
            raise egress.EgressRefused(f"scheme {target.scheme} is not allowed for webhooks")
        verdict = egress.check_target(target, [], allow_loopback=self._allow_loopback)
        if not verdict.allowed:
            raise egress.EgressRefused(verdict.reason)
        address = await egress.pinned_address(
            target, self._resolver, allow_loopback=self._allow_loopback
        )
        return target, address

    async def _record(self, rec: RecordedEvent, attempt: WebhookAttempted, version: int) -> None:
        """Log the try (the console's webhook deliveries); its id is derived from the
        delivery and the try's number, so a redelivered handler run stores it once."""
        env = rec.envelope
        event = envelope(
            attempt,
            tenant=env.tenant,
            aggregate_id=env.id,
            correlation_id=env.correlation_id,
            causation_id=env.id,
            event_id=derived_event_id(env.id, f"webhook-attempt-{attempt.attempt}"),
        )
        try:
            await self._store.append([event], expected_version=version)
        except ConcurrencyConflict:
            # Another replica recorded a try of this delivery at the same moment: the
            # delivery itself still counts, only this line of its history is lost.
            log.warning("webhook attempt not recorded", extra={"task_id": attempt.task_id,
                        "correlation_id": env.correlation_id})  # fmt: skip

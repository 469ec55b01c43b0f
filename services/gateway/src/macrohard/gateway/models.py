"""Request and response bodies of the HTTP API (msgspec: validated on decode, in OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from macrohard.billing.public import DEFAULT_PLAN, PLANS, BudgetStatus, Invoice, MeterUsage
from macrohard.contracts.sessions import SESSION_NAME
from macrohard.gateway.domain import ArtifactView, TaskView

# PostgreSQL text cannot hold NUL; refusing it here keeps it out of the log as well.
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Domain = Annotated[str, Meta(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.*-]+$")]
# Money is a decimal string, never a float.
Money = Annotated[str, Meta(pattern=r"^[0-9]{1,12}(\.[0-9]{1,4})?$")]
PLAN_PATTERN = "^(" + "|".join(sorted(PLANS)) + ")$"
Url = Annotated[str, Meta(min_length=1, max_length=2048, pattern=r"^https?://\S+$")]
SecretName = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
# A TOTP seed as authenticator apps show it: base32 (RFC 4648), 80 to 512 bits, padding and
# spaces optional. Refused here, a malformed seed never reaches the actuator.
TotpSeed = Annotated[
    str, Meta(min_length=16, max_length=128, pattern=r"^(?:[A-Za-z2-7] ?){16,}=*$")
]


class TenantIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    # The plans billing prices: one catalogue, so a tenant can only be on a plan that bills.
    plan: Annotated[str, Meta(pattern=PLAN_PATTERN)] = DEFAULT_PLAN
    allowed_domains: Annotated[list[Domain], Meta(max_length=100)] = []
    monthly_budget: Money = "0"
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$")] = "USD"


class TenantCreated(msgspec.Struct, kw_only=True):
    tenant_id: str
    api_key: str
    key_id: str
    # HMAC secret for verifying webhook deliveries (derivable again via GET /v1/webhook-secret).
    webhook_secret: str


class TenantOut(msgspec.Struct, kw_only=True):
    tenant_id: str
    name: str
    plan: str
    allowed_domains: list[str]
    monthly_budget: str
    currency: str
    created_at: datetime


class TenantList(msgspec.Struct, kw_only=True):
    data: list[TenantOut]


class ApiKeyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    label: Annotated[str, Meta(max_length=100, pattern=NO_NUL)] = ""


class ApiKeyOut(msgspec.Struct, kw_only=True):
    key_id: str
    prefix: str
    preview: str
    label: str
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyCreated(msgspec.Struct, kw_only=True):
    key_id: str
    api_key: str
    prefix: str
    preview: str
    label: str


class ApiKeyList(msgspec.Struct, kw_only=True):
    data: list[ApiKeyOut]


ArtifactId = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]


class TaskIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    goal: Annotated[str, Meta(min_length=1, max_length=4000, pattern=NO_NUL)]
    start_url: Url
    inputs: dict[SecretName, Annotated[str, Meta(max_length=4000, pattern=NO_NUL)]] = {}
    # Plain text only inside this request: sealed before anything is written.
    secrets: dict[SecretName, Annotated[str, Meta(max_length=4000)]] = {}
    # TOTP seeds, sealed like secrets; `{{totp:NAME}}` in a typed text becomes the current code.
    totp: Annotated[dict[SecretName, TotpSeed], Meta(max_length=10)] = {}
    # JSON Schema (2020-12) of the structured result; the task ends with `output` valid
    # against it, or fails with the validation error.
    output_schema: dict[str, Any] | None = None
    max_steps: Annotated[int, Meta(ge=1, le=200)] = 30
    webhook_url: Url | None = None
    # Seconds each step may wait for a free car (fleet busy or restarting) before failing.
    car_wait_s: Annotated[float, Meta(ge=0, le=3600)] = 300.0
    # A saved session: the task starts from its browser state and saves into it after; one
    # task at a time (a second gets 409).
    session: Annotated[str, Meta(pattern=SESSION_NAME.pattern)] | None = None
    # Artifact ids (POST /v1/artifacts) of files the task brings for its `upload` steps;
    # a goal names them by file name ('Upload "report.pdf" to Document').
    files: Annotated[list[ArtifactId], Meta(max_length=200)] = []


class ArtifactList(msgspec.Struct, kw_only=True):
    data: list[ArtifactView]
    next_cursor: str | None = None


class TaskAccepted(msgspec.Struct, kw_only=True):
    task_id: str
    status: str
    events_url: str


class TaskList(msgspec.Struct, kw_only=True):
    data: list[TaskView]
    next_cursor: str | None = None


class WebhookSecret(msgspec.Struct, kw_only=True):
    webhook_secret: str


class UsageOut(msgspec.Struct, kw_only=True):
    """Billing's usage for the tenant; `available` is false until billing's read model exists."""

    available: bool
    period: str
    meters: list[MeterUsage] = []
    budget: BudgetStatus | None = None


class InvoiceList(msgspec.Struct, kw_only=True):
    available: bool
    data: list[Invoice] = []


class Health(msgspec.Struct, kw_only=True):
    status: str
    checks: dict[str, str] = {}

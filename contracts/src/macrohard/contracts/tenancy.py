"""Tenants and their API keys (owned by the gateway)."""

from __future__ import annotations

import msgspec

from macrohard.contracts.envelope import Event
from macrohard.contracts.upcasting import JsonObject


class FirstKey(msgspec.Struct, frozen=True, kw_only=True):
    """The API key a tenant is onboarded with (as in ApiKeyIssued: never the key itself)."""

    key_id: str
    prefix: str
    preview: str
    key_hash: str
    label: str = "default"


class TenantOnboarded(Event, frozen=True, kw_only=True):
    aggregate_type = "tenant"
    # v1 carried the budget as a JSON number (`budget`); money is never a float, so v2
    # carries a decimal string and the currency. See `upcast_tenant_onboarded_v1`.
    schema_version = 2

    tenant_id: str
    name: str
    plan: str
    allowed_domains: list[str]
    monthly_budget: str
    currency: str = "USD"
    # Onboarding is one append: the tenant and its first key together, so no crash can leave
    # a tenant without a usable key. Later keys are ApiKeyIssued events of their own.
    first_key: FirstKey | None = None


def upcast_tenant_onboarded_v1(payload: JsonObject) -> JsonObject:
    out = dict(payload)
    budget = out.pop("budget", "0")
    # str() of a JSON number keeps the digits that were written, e.g. 100.5 -> "100.5".
    out["monthly_budget"] = str(budget)
    out.setdefault("currency", "USD")
    return out


class TenantBudgetChanged(Event, frozen=True, kw_only=True):
    aggregate_type = "tenant"

    tenant_id: str
    monthly_budget: str


class TenantDomainsChanged(Event, frozen=True, kw_only=True):
    aggregate_type = "tenant"

    tenant_id: str
    allowed_domains: list[str]


class ApiKeyIssued(Event, frozen=True, kw_only=True):
    aggregate_type = "apikey"

    key_id: str
    tenant_id: str
    prefix: str
    preview: str
    # SHA-256 of the whole key; the key itself never enters the log.
    key_hash: str
    label: str = ""


class ApiKeyRevoked(Event, frozen=True, kw_only=True):
    aggregate_type = "apikey"

    key_id: str
    tenant_id: str
    reason: str = ""


EVENTS: tuple[type[Event], ...] = (
    TenantOnboarded,
    TenantBudgetChanged,
    TenantDomainsChanged,
    ApiKeyIssued,
    ApiKeyRevoked,
)
UPCASTERS = {("TenantOnboarded", 1): upcast_tenant_onboarded_v1}

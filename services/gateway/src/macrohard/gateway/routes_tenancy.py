"""Onboarding (admin) and API keys (tenant): POST/GET /v1/tenants, GET/POST/DELETE /v1/api-keys."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from macrohard.contracts.envelope import envelope, new_event_id
from macrohard.contracts.tenancy import ApiKeyIssued, ApiKeyRevoked, FirstKey, TenantOnboarded
from macrohard.gateway import keys
from macrohard.gateway.context import GatewayContext, token_ok
from macrohard.gateway.errors import COMMON, problems
from macrohard.gateway.models import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyList,
    ApiKeyOut,
    TenantCreated,
    TenantIn,
    TenantList,
    TenantOut,
    WebhookSecret,
)
from macrohard.gateway.secrets import webhook_signing_key

AnyRequest = Request[Any, Any, Any]


def gw(request: AnyRequest) -> GatewayContext:
    ctx: GatewayContext = request.app.state.gateway
    return ctx


def _new_key_id() -> str:
    return "key_" + new_event_id().replace("-", "")


async def _issue_key(ctx: GatewayContext, tenant_id: str, label: str) -> tuple[str, str, int]:
    minted = keys.mint()
    key_id = _new_key_id()
    event = ApiKeyIssued(
        key_id=key_id,
        tenant_id=tenant_id,
        prefix=minted.prefix,
        preview=minted.preview,
        key_hash=minted.key_hash,
        label=label,
    )
    result = await ctx.store.append(
        [envelope(event, tenant=tenant_id, aggregate_id=key_id)], expected_version=0
    )
    return key_id, minted.secret, result.version


@post(
    "/v1/tenants",
    status_code=201,
    summary="Onboard a tenant (operator's admin token)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def create_tenant(request: AnyRequest, data: JSONBody[TenantIn]) -> TenantCreated:
    ctx = gw(request)
    ctx.check_admin(request.headers.get("authorization"))
    tenant_id = "tn_" + new_event_id().replace("-", "")
    minted = keys.mint()
    first = FirstKey(
        key_id=_new_key_id(),
        prefix=minted.prefix,
        preview=minted.preview,
        key_hash=minted.key_hash,
    )
    onboarded = TenantOnboarded(
        tenant_id=tenant_id,
        name=data.name,
        plan=data.plan,
        allowed_domains=data.allowed_domains,
        monthly_budget=data.monthly_budget,
        currency=data.currency,
        first_key=first,
    )
    # One append: the tenant exists with its key, or not at all.
    result = await ctx.store.append(
        [envelope(onboarded, tenant=tenant_id, aggregate_id=tenant_id)], expected_version=0
    )
    # The caller uses the key at once: answer only when the key table knows it (on any
    # replica: wait_seen reads the shared checkpoint where this one does not project).
    await ctx.wait_seen(result.version)
    return TenantCreated(
        tenant_id=tenant_id,
        api_key=minted.secret,
        key_id=first.key_id,
        webhook_secret=webhook_signing_key(ctx.settings.master_key, tenant_id),
    )


@get(
    "/v1/tenants",
    summary="List tenants (operator's admin token)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def list_tenants(request: AnyRequest) -> TenantList:
    ctx = gw(request)
    ctx.check_admin(request.headers.get("authorization"))
    return await all_tenants(ctx)


async def all_tenants(ctx: GatewayContext) -> TenantList:
    rows = await ctx.pool.fetch(
        """SELECT tenant_id, name, plan, allowed_domains, monthly_budget::text AS budget,
                  currency, created_at FROM gateway.tenants ORDER BY created_at DESC"""
    )
    return TenantList(
        data=[
            TenantOut(
                tenant_id=r["tenant_id"],
                name=r["name"],
                plan=r["plan"],
                allowed_domains=list(r["allowed_domains"]),
                monthly_budget=r["budget"],
                currency=r["currency"],
                created_at=r["created_at"],
            )
            for r in rows
        ]
    )


@get(
    "/v1/api-keys",
    summary="List this tenant's API keys (prefix and preview only)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def list_keys(request: AnyRequest) -> ApiKeyList:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    return await tenant_keys(ctx, who.tenant_id)


async def tenant_keys(ctx: GatewayContext, tenant_id: str) -> ApiKeyList:
    rows = await ctx.pool.fetch(
        """SELECT key_id, prefix, preview, label, created_at, revoked_at FROM gateway.api_keys
           WHERE tenant_id = $1 ORDER BY created_at DESC""",
        tenant_id,
    )
    return ApiKeyList(data=[ApiKeyOut(**dict(r)) for r in rows])


@post(
    "/v1/api-keys",
    status_code=201,
    summary="Issue another API key (shown once)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def issue_key(request: AnyRequest, data: JSONBody[ApiKeyIn]) -> ApiKeyCreated:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    return await issue_key_for(ctx, who.tenant_id, data.label)


async def issue_key_for(ctx: GatewayContext, tenant_id: str, label: str) -> ApiKeyCreated:
    """Issue a key and answer once the read model knows it (usable on the next request)."""
    key_id, secret, seq = await _issue_key(ctx, tenant_id, label)
    await ctx.wait_seen(seq)
    return ApiKeyCreated(
        key_id=key_id,
        api_key=secret,
        prefix=keys.KEY_PREFIX,
        preview=keys.preview(secret),
        label=label,
    )


@delete(
    "/v1/api-keys/{key_id:str}",
    status_code=204,
    summary="Revoke an API key (at once on this replica)",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def revoke_key(request: AnyRequest, key_id: FromPath[str]) -> None:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    await revoke_key_of(ctx, who.tenant_id, key_id)


async def revoke_key_of(ctx: GatewayContext, tenant_id: str, key_id: str) -> None:
    """Revoke one of the tenant's keys (idempotent); 404 for any other key."""
    if not token_ok(key_id):
        raise NotFoundException(detail=f"no API key {key_id}")
    row = await ctx.pool.fetchrow(
        "SELECT revoked_at FROM gateway.api_keys WHERE key_id = $1 AND tenant_id = $2",
        key_id,
        tenant_id,
    )
    if row is None:  # also another tenant's key: 404, never 403
        raise NotFoundException(detail=f"no API key {key_id}")
    if row["revoked_at"] is not None:
        return
    event = ApiKeyRevoked(key_id=key_id, tenant_id=tenant_id, reason="revoked via API")
    result = await ctx.store.append(
        [envelope(event, tenant=tenant_id, aggregate_id=key_id)], expected_version=None
    )
    await ctx.wait_seen(result.version)


@get(
    "/v1/webhook-secret",
    summary="The HMAC-SHA256 secret webhook deliveries are signed with",
    responses=problems(*COMMON),
    security=[{"bearer": []}],
)
async def get_webhook_secret(request: AnyRequest) -> WebhookSecret:
    ctx = gw(request)
    who = await ctx.authenticate(request.headers.get("authorization"))
    return WebhookSecret(webhook_secret=webhook_signing_key(ctx.settings.master_key, who.tenant_id))


ROUTES = [create_tenant, list_tenants, list_keys, issue_key, revoke_key, get_webhook_secret]

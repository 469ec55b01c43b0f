"""The Litestar application: routes, problem details, OpenAPI 3.1, health and readiness."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from macrohard.gateway import (
    events,
    routes_approvals,
    routes_schedules,
    routes_tasks,
    routes_tenancy,
)
from macrohard.gateway.context import GatewayContext
from macrohard.gateway.errors import EXCEPTION_HANDLERS, problem
from macrohard.gateway.models import Health


@get("/healthz", summary="The process is alive", include_in_schema=True)
async def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    summary="NATS and PostgreSQL reachable, projection lag under the bound",
    responses={},
)
async def readyz(request: Request[Any, Any, Any]) -> Response[Any]:
    ctx: GatewayContext = request.app.state.gateway
    checks: dict[str, str] = {}
    try:
        await ctx.store.stream_head()
        checks["nats"] = "ok"
    except Exception as exc:
        checks["nats"] = f"unreachable: {type(exc).__name__}"
    try:
        await ctx.pool.fetchval("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"unreachable: {type(exc).__name__}"
    # Events matching the projection's subjects that it has not applied yet.
    lag = ctx.runner.lag
    checks["projection_lag"] = str(lag)
    ok = checks["nats"] == "ok" and checks["postgres"] == "ok" and 0 <= lag <= ctx.settings.max_lag
    return Response(
        Health(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503
    )


@get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> Response[Any]:
    return Response(request.app.openapi_schema.to_schema())


def create_app(ctx: GatewayContext) -> Litestar:
    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            openapi_json,
            *routes_tenancy.ROUTES,
            *routes_tasks.ROUTES,
            *events.ROUTES,
            *routes_schedules.ROUTES,
            *routes_approvals.ROUTES,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=ctx.settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Macrohard gateway",
            version="1.0.0",
            path="/schema",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="A tenant API key (mh_live_...) or the operator's admin token",
                    )
                }
            ),
        ),
        debug=False,
        logging_config=None,
    )
    app.state.gateway = ctx
    return app


__all__ = ["create_app", "problem"]

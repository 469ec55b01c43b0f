"""The Litestar application: routes, problem details, OpenAPI 3.1, health and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import asyncpg
import nats.errors
from litestar import Litestar, Request, Response, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from macrohard.gateway import (
    console,
    events,
    routes_approvals,
    routes_artifacts,
    routes_schedules,
    routes_sessions,
    routes_tasks,
    routes_tenancy,
)
from macrohard.gateway.context import GatewayContext
from macrohard.gateway.errors import EXCEPTION_HANDLERS, problem
from macrohard.gateway.models import Health
from macrohard.gateway.openapi_links import with_links


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
    # Each check is bounded: a dependency that is down makes this answer 503 at once, never
    # hang (a load balancer's probe has its own short timeout and would see nothing).
    nats_state, pg_state = await asyncio.gather(
        _probe(ctx.store.stream_head()), _probe(ctx.pool.fetchval("SELECT 1"))
    )
    checks: dict[str, str] = {"nats": nats_state, "postgres": pg_state}
    # Events matching the projection's subjects that it has not applied yet.
    lag = ctx.runner.lag
    checks["projection_lag"] = str(lag)
    ok = checks["nats"] == "ok" and checks["postgres"] == "ok" and 0 <= lag <= ctx.settings.max_lag
    return Response(
        Health(status="ok" if ok else "unavailable", checks=checks),
        status_code=200 if ok else 503,
        headers={} if ok else {"Retry-After": "2"},
    )


READY_PROBE_S = 2.0


async def _probe(check: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(check, READY_PROBE_S)
    except TimeoutError:
        return f"unreachable: no answer in {READY_PROBE_S:g}s"
    except (nats.errors.Error, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> Response[Any]:
    return Response(with_links(request.app.openapi_schema.to_schema()))


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
            *routes_sessions.ROUTES,
            *routes_artifacts.ROUTES,
            console.router(),
            console.static_files(),
        ],
        template_config=console.TEMPLATES,
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

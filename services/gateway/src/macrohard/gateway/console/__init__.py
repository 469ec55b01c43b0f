"""The web console at /console: tenants watch their agents work, operators run the fleet.

Server-rendered Jinja templates with htmx for partial updates and SSE for a running task,
uPlot for the usage chart and a canvas for the fleet; every asset is served from
`static/` (vendored from npm with its licence), so the console works with no network.
`create_app` mounts `ROUTES`, `TEMPLATES` and `static_files()`; nothing else in the gateway
needs to know the console exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from macrohard.gateway.console import (
    routes_account,
    routes_auth,
    routes_ops,
    routes_tasks,
    routes_webhooks,
)
from macrohard.gateway.console.views import error_page, register_filters
from macrohard.gateway.console.web import PREFIX, SignInRequired, not_signed_in

HERE = Path(__file__).parent

TEMPLATES: TemplateConfig[JinjaTemplateEngine] = TemplateConfig(
    directory=HERE / "templates",
    engine=JinjaTemplateEngine,
    engine_callback=register_filters,
)


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            *routes_auth.ROUTES,
            *routes_tasks.ROUTES,
            *routes_account.ROUTES,
            *routes_webhooks.ROUTES,
            *routes_ops.ROUTES,
        ],
        # Errors inside the console are pages, not problem+json: a person reads them.
        exception_handlers={SignInRequired: not_signed_in, HTTPException: error_page},
        include_in_schema=False,
    )


def static_files() -> Any:
    return create_static_files_router(
        path=f"{PREFIX}/static",
        directories=[HERE / "static"],
        include_in_schema=False,
        cache_control=None,
    )


__all__ = ["TEMPLATES", "router", "static_files"]

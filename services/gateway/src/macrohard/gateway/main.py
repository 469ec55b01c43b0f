"""The gateway process: projection, webhook consumer and the HTTP server, on one Service.

Config (env): MH_GATEWAY_HTTP_PORT (default 8080), MH_GATEWAY_HTTP_HOST (127.0.0.1),
MH_ADMIN_TOKEN, MH_SECRETS_KEY, MH_GATEWAY_RATE_PER_S / MH_GATEWAY_RATE_BURST (per tenant),
MH_LOCAL_TEST_MODE=1 (webhooks may target loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
from collections.abc import Callable, Generator
from pathlib import Path

import uvicorn

from macrohard.contracts.envelope import RecordedEvent
from macrohard.eventlog import Service, ServiceConfig, run_service
from macrohard.eventlog.index import EventIndexProjection
from macrohard.eventlog.service import secret_from_env
from macrohard.gateway.api import create_app
from macrohard.gateway.context import GatewayContext, GatewaySettings
from macrohard.gateway.handlers import WEBHOOK_CONSUMER, WebhookDelivery
from macrohard.gateway.projection import GatewayProjection
from macrohard.gateway.secrets import decode_master_key, ensure_master_key, master_key_from_env
from macrohard.gateway.sessions_projection import SessionsProjection

DEFAULT_HTTP_PORT = 8080


class _EmbeddedServer(uvicorn.Server):
    # The Service owns SIGTERM/SIGINT; uvicorn must not take them over.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def settings_from(config: ServiceConfig) -> GatewaySettings:
    token = secret_from_env("MH_ADMIN_TOKEN")
    if not token:
        raise SystemExit("MH_ADMIN_TOKEN (or MH_ADMIN_TOKEN_FILE) is not set (mh up generates one)")
    extra = config.extra
    if "secrets_key" in extra:
        master = decode_master_key(extra["secrets_key"])
    elif secret_from_env("MH_SECRETS_KEY"):
        master = master_key_from_env()
    else:
        # Under `mh up`: generated once into the data dir (0600), then shared with the actuator.
        data_dir = Path(os.environ.get("MH_DATA_DIR", ".mh"))
        master = decode_master_key(ensure_master_key(data_dir))
    return GatewaySettings(
        admin_token=token,
        master_key=master,
        rate_per_s=float(extra.get("rate_per_s", 200)),
        rate_burst=float(extra.get("rate_burst", 400)),
    )


class Gateway:
    """Wires one gateway into a Service; tests use it directly with their own settings."""

    def __init__(
        self,
        settings: GatewaySettings | Callable[[], GatewaySettings],
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_HTTP_PORT,
        allow_private_webhooks: bool = False,
        sock: socket.socket | None = None,
    ) -> None:
        # A factory defers reading the environment (and creating the key file) to run time:
        # `mh contracts asyncapi` calls build() only to see the consumers.
        self._settings = settings
        self.host, self.port, self.sock = host, port, sock
        self.allow_private_webhooks = allow_private_webhooks
        self.context: GatewayContext | None = None
        self.started = asyncio.Event()
        self.projection = GatewayProjection(on_key_revoked=self._forget_key)
        self._delivery: WebhookDelivery | None = None

    @property
    def settings(self) -> GatewaySettings:
        if not isinstance(self._settings, GatewaySettings):
            self._settings = self._settings()
        return self._settings

    def _forget_key(self, key_hash: str) -> None:
        if self.context is not None:
            self.context.forget_key(key_hash)

    def build(self, service: Service) -> None:
        service.project(self.projection)
        service.project(SessionsProjection())

        async def on_final(rec: RecordedEvent) -> None:
            if self._delivery is None:
                self._delivery = WebhookDelivery(
                    service.store,
                    self.settings.master_key,
                    allow_private=self.allow_private_webhooks,
                )
            await self._delivery(rec)

        service.consume(WEBHOOK_CONSUMER, on_final)
        service.background(self.serve)

    async def serve(self, service: Service) -> None:
        runner = next(r for r in service.runners if r.name == self.projection.name)
        self.context = GatewayContext(
            nc=service.nc,
            store=service.store,
            pool=service.pool,
            runner=runner,
            settings=self.settings,
            allow_loopback_webhooks=self.allow_private_webhooks,
            file_replicas=service.config.stream_replicas,
        )
        config = uvicorn.Config(
            create_app(self.context),
            host=self.host,
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            loop="none",
            http="httptools",
            timeout_graceful_shutdown=2,
        )
        server = _EmbeddedServer(config)
        serving = asyncio.create_task(server.serve([self.sock] if self.sock else None))
        # uvicorn exposes readiness only as a flag, so poll it.
        while not server.started and not serving.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        # Everything allocated so far (app, routes, schemas) lives for the whole process:
        # moving it out of the collector's generations shortens every later GC pause,
        # and fewer young-generation runs cut the latency tail under load.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        self.started.set()
        try:
            await serving
        finally:
            server.should_exit = True
            if self._delivery is not None:
                await self._delivery.close()


def build(service: Service) -> None:
    extra = service.config.extra
    # The operators' event index (`mh trace`, `mh events show <id>`) is a kernel read model
    # with no service of its own; the gateway, the platform's front door, keeps it live.
    service.project(EventIndexProjection())
    Gateway(
        lambda: settings_from(service.config),
        host=extra.get("http_host", "127.0.0.1"),
        port=int(extra.get("http_port", DEFAULT_HTTP_PORT)),
        allow_private_webhooks=os.environ.get("MH_LOCAL_TEST_MODE") == "1",
    ).build(service)


def main() -> None:
    # uvloop: the C event loop roughly doubles what one core serves.
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    run_service("gateway", build)


if __name__ == "__main__":
    main()

"""What every service process shares: configuration, connections, consumers, projections.

A service's `main.py` builds a `Service`, registers its consumers and projections, and calls
`run()`. The same object runs under `mh up` (one OS process per service) and in a container
(`mh run <service>`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats
from fast_depends.msgspec import MsgSpecSerializer
from faststream.nats import NatsBroker
from nats.aio.client import Client as NATS

from macrohard.contracts.identities import inbox_prefix
from macrohard.eventlog.consumer import ConsumerSpec, EventHandler, subscribe
from macrohard.eventlog.logs import configure_logging, redact
from macrohard.eventlog.metrics import serve_metrics
from macrohard.eventlog.projection import Projection, ProjectionRunner
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams
from macrohard.eventlog.views import LiveView, ViewHandler, ViewSpec

log = logging.getLogger("macrohard.service")

Task = Callable[["Service"], Coroutine[Any, Any, None]]

STOP_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Where a service finds the platform.

    Env: MH_NATS_URL, MH_DATABASE_URL, MH_STREAM_REPLICAS, and MH_<SERVICE>_<KEY> for the
    service's own settings (MH_<SERVICE>_METRICS_PORT, ...), which land in `extra`.
    """

    name: str
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str | None = None
    metrics_port: int = 0
    # 1 locally; 3 in the compose cluster so the log survives losing a NATS node.
    stream_replicas: int = 1
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, name: str) -> ServiceConfig:
        prefix = f"MH_{name.upper().replace('-', '_')}_"
        return cls(
            name=name,
            nats_url=os.environ.get("MH_NATS_URL", "nats://127.0.0.1:4222"),
            database_url=os.environ.get("MH_DATABASE_URL"),
            metrics_port=int(os.environ.get(prefix + "METRICS_PORT", "0")),
            stream_replicas=int(os.environ.get("MH_STREAM_REPLICAS", "1")),
            extra={
                k[len(prefix) :].lower(): v for k, v in os.environ.items() if k.startswith(prefix)
            },
        )


def secret_from_env(name: str) -> str | None:
    """`name` from the environment, else the contents of the file `<name>_FILE` names.

    Compose and Kubernetes hand secrets to a container as files (`/run/secrets/...`), so a
    key never shows in `docker inspect` or a process listing; `mh up` passes variables.
    """
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        with open(path) as f:
            return f.read().strip() or None
    return None


def nats_servers(nats_url: str) -> list[str]:
    """The servers of a seed list (`nats://u:p@a:4222,nats://u:p@b:4222`).

    Every URL carries the credentials: nats-py does not apply them to the servers a cluster
    advertises, so a client told only one node could not fail over to the others.
    """
    return [u.strip() for u in nats_url.split(",") if u.strip()]


def new_broker(nats_url: str = "nats://127.0.0.1:4222", name: str = "macrohard") -> NatsBroker:
    # msgspec end to end: contracts are msgspec Structs, no pydantic in the message path.
    return NatsBroker(
        nats_servers(nats_url),
        serializer=MsgSpecSerializer(),
        logger=logging.getLogger("faststream"),
        max_reconnect_attempts=-1,
        name=name,
        # The identity's own replies: its NATS user may subscribe there and nowhere else.
        inbox_prefix=inbox_prefix(name),
    )


class Service:
    """Connections and the things that run in one service process."""

    def __init__(self, config: ServiceConfig, broker: NatsBroker | None = None) -> None:
        self.config = config
        self.broker = broker or new_broker(config.nats_url, config.name)
        self._nc: NATS | None = None
        self._pool: asyncpg.Pool | None = None
        self._store: EventStore | None = None
        self._projections: list[Projection] = []
        self.runners: list[ProjectionRunner] = []
        self._tasks: list[Task] = []
        self._views: list[LiveView] = []

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def nc(self) -> NATS:
        if self._nc is None:
            raise RuntimeError(f"{self.name}: not connected yet")
        return self._nc

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.name}: no database configured or not connected yet")
        return self._pool

    @property
    def store(self) -> EventStore:
        if self._store is None:
            raise RuntimeError(f"{self.name}: not connected yet")
        return self._store

    @property
    def projections(self) -> tuple[Projection, ...]:
        """Projections registered with `project` (tooling replays and verifies them)."""
        return tuple(self._projections)

    def consume(self, spec: ConsumerSpec, handler: EventHandler) -> None:
        """Declare a durable consumer (see eventlog.consumer)."""
        subscribe(
            self.broker,
            spec,
            handler,
            dlq_connection=lambda: self.nc,
            inbox_prefix=inbox_prefix(self.name),
        )

    def follow(self, spec: ViewSpec, handler: ViewHandler) -> None:
        """Keep an in-memory view every replica needs whole (see eventlog.views).

        It is replayed from sequence 1 on start, before any consumer runs, and kept live.
        """
        self._views.append(LiveView(spec, handler))

    def project(self, projection: Projection) -> None:
        self._projections.append(projection)

    def background(self, task: Task) -> None:
        """A long-running coroutine (an HTTP server, a sweeper) that lives as long as we do."""
        self._tasks.append(task)

    async def start(self) -> None:
        self._nc = await nats.connect(
            nats_servers(self.config.nats_url),
            name=self.name,
            max_reconnect_attempts=-1,
            inbox_prefix=inbox_prefix(self.name),
        )
        await ensure_streams(self._nc.jetstream(), self.config.stream_replicas)
        self._store = EventStore(self._nc)
        if self.config.database_url:
            self._pool = await asyncpg.create_pool(
                self.config.database_url, min_size=1, max_size=10
            )
        for projection in self._projections:
            runner = ProjectionRunner(self.nc, self.pool, projection)
            await runner.setup()
            self.runners.append(runner)
        for view in self._views:
            await view.start(self.nc)
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        for view in self._views:
            await view.stop()
        if self._store is not None:
            await self._store.close()
        if self._nc is not None:
            await self._nc.drain()
        if self._pool is not None:
            await self._pool.close()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until `stop` is set or SIGTERM/SIGINT arrives."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await self.start()
        serve_metrics(self.config.metrics_port)
        jobs = [
            asyncio.create_task(_project_through_outages(r), name=f"projection:{r.name}")
            for r in self.runners
        ]
        jobs += [asyncio.create_task(t(self), name=f"task:{i}") for i, t in enumerate(self._tasks)]
        log.info("service started", extra={"nats": redact(self.config.nats_url)})
        waiter = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([waiter, *jobs], return_when=asyncio.FIRST_COMPLETED)
            for job in done:
                if job is not waiter and job.exception() is not None:
                    raise job.exception()  # type: ignore[misc]
        finally:
            for job in [waiter, *jobs]:
                job.cancel()
            # Bounded: a library that swallows a cancellation (nats-py's request can) must
            # not keep a stopping service alive past its orchestrator's patience.
            _, stuck = await asyncio.wait([waiter, *jobs], timeout=STOP_GRACE_S)
            for job in stuck:
                log.warning("task did not stop in time", extra={"task": job.get_name()})
            await self.stop()
            log.info("service stopped")


# What a PostgreSQL restart looks like from a projection: its connections break (08xxx),
# the server refuses while starting (57P03) or says it is shutting down (57P01).
DATABASE_OUTAGE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.InterfaceError,
    ConnectionError,
    OSError,
)


async def _project_through_outages(runner: ProjectionRunner, retry_s: float = 1.0) -> None:
    """Run a projection for as long as the service lives, across database restarts.

    A restart of PostgreSQL used to end the projection's task and with it the whole
    process; every replica of every service with a read model then restarted at once,
    which on a small machine is tens of seconds of nothing served. The checkpoint is
    written in the same transaction as the rows, so resuming from it applies nothing twice.
    """
    while True:
        try:
            await runner.run()
            return
        except DATABASE_OUTAGE as exc:
            log.warning(
                "database unavailable; the projection resumes from its checkpoint",
                extra={"projection": runner.name, "error": f"{type(exc).__name__}: {exc}"},
            )
            await asyncio.sleep(retry_s)


def run_service(name: str, build: Callable[[Service], object]) -> None:
    """Entry point used by every service's main(): configure, build, run."""
    configure_logging(name)
    service = Service(ServiceConfig.from_env(name))
    build(service)
    asyncio.run(service.run())

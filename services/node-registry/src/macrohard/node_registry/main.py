"""The node registry as one process: `mh run node-registry`.

Env: MH_NATS_URL, MH_DATABASE_URL (the `fleet` read model), and
MH_NODE_REGISTRY_HEARTBEAT_INTERVAL_S (default 10: a node silent for 3 of them is lost).
"""

from __future__ import annotations

import asyncio

from macrohard.contracts.fleet import DEFAULT_HEARTBEAT_INTERVAL_S
from macrohard.eventlog import Service, run_service
from macrohard.node_registry.api import serve_leases
from macrohard.node_registry.handlers import absorb_heartbeats, follow_log, sweep_forever
from macrohard.node_registry.projection import FleetProjection
from macrohard.node_registry.registry import Registry


def build(service: Service) -> None:
    interval = float(service.config.extra.get("heartbeat_interval_s", DEFAULT_HEARTBEAT_INTERVAL_S))
    if service.config.database_url:
        service.project(FleetProjection())

    async def registry_task(svc: Service) -> None:
        registry = Registry(svc.store, heartbeat_interval_s=interval)
        ready = asyncio.Event()
        subs = [await follow_log(svc.nc, registry, ready)]
        await ready.wait()
        # Heartbeats and leases only once the log is replayed: before that we would grant
        # leases on capacity we do not know is taken.
        subs.append(await absorb_heartbeats(svc.nc, registry))
        subs += await serve_leases(svc.nc, registry)
        try:
            await sweep_forever(registry, period_s=min(0.5, interval / 20))
        finally:
            for sub in subs:
                await sub.unsubscribe()

    service.background(registry_task)


def main() -> None:
    run_service("node-registry", build)

"""One node registry replica as one process: `mh run node-registry` (run as many as you like:
they share the fleet through partitions and lease slots in JetStream KV).

Env: MH_NATS_URL, MH_DATABASE_URL (the `fleet` read model),
MH_NODE_REGISTRY_HEARTBEAT_INTERVAL_S (default 10: a node silent for 3 of them is lost) and
MH_NODE_REGISTRY_REPLICA (this replica's name in the partition table; default: random).
"""

from __future__ import annotations

import asyncio

import nats

from macrohard.contracts.fleet import DEFAULT_HEARTBEAT_INTERVAL_S
from macrohard.eventlog import Service, run_service
from macrohard.eventlog.service import nats_servers
from macrohard.node_registry.projection import FleetProjection
from macrohard.node_registry.replica import running_replica


def build(service: Service) -> None:
    interval = float(service.config.extra.get("heartbeat_interval_s", DEFAULT_HEARTBEAT_INTERVAL_S))
    if service.config.database_url:
        service.project(FleetProjection())

    async def registry_task(svc: Service) -> None:
        replica = service.config.extra.get("replica", "")
        # Heartbeats on a connection of their own (see running_replica).
        heartbeats = await nats.connect(
            nats_servers(service.config.nats_url),
            name="node-registry-heartbeats",
            max_reconnect_attempts=-1,
            pending_size=256 * 1024 * 1024,
        )
        try:
            async with running_replica(
                svc.nc,
                svc.store,
                heartbeat_interval_s=interval,
                replica=replica,
                heartbeats=heartbeats,
            ):
                await asyncio.Event().wait()  # until the service stops (cancels this task)
        finally:
            await heartbeats.close()

    service.background(registry_task)


def main() -> None:
    run_service("node-registry", build)

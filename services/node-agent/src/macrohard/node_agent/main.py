"""One car as one process: `mh node --id car-1 [--parked-until TIME] [--schedule FILE]`.

Start order: Triton first (a node registers only models it can serve), then NATS, register,
park, heartbeat. On SIGTERM the car says it is leaving (NodeUnparked: its leases are revoked
at once instead of after 3 missed heartbeats) and stops Triton.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS

from macrohard.contracts.envelope import utcnow
from macrohard.contracts.fleet import ALL_HOURS, DEFAULT_HEARTBEAT_INTERVAL_S, DEFAULT_SOC_FLOOR
from macrohard.contracts.identities import inbox_prefix
from macrohard.eventlog.logs import configure_logging
from macrohard.eventlog.service import nats_servers
from macrohard.node_agent.agent import NodeAgent, NodeIdentity
from macrohard.node_agent.domain import (
    CarState,
    ScheduledChange,
    parse_parked_until,
    parse_schedule,
)
from macrohard.node_agent.triton import TritonHost
from macrohard.node_agent.work import InferenceWorker
from macrohard.planner_model import load_bindings

log = logging.getLogger("macrohard.node_agent")


@dataclass(frozen=True, slots=True)
class NodeOptions:
    node_id: str
    nats_url: str = "nats://127.0.0.1:4222"
    owner_account: str = ""
    nats_user: str | None = None
    nats_password: str | None = None
    parked_until: str | None = None
    schedule: Path | None = None
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S
    http_port: int = 0
    grpc_port: int = 0
    state_of_charge: float = 0.8
    soc_floor: float = DEFAULT_SOC_FLOOR
    charging: bool = False
    # The owner's terms (OwnerPreferencesSet), declared after registering when any is given.
    min_charge: float | None = None
    work_hours: list[int] | None = None
    time_zone: str = "UTC"
    model_modules: list[str] = field(default_factory=list)
    triton_workspace: Path | None = None


async def connect_as_node(
    url: str, node_id: str, user: str | None, password: str | None, **options: Any
) -> NATS:
    """A connection whose reply inboxes are the car's own (`_INBOX_<id>.>`): its
    credentials may subscribe there and nowhere else (see deploy/nats)."""
    return await nats.connect(
        nats_servers(url),
        user=user,
        password=password,
        name=f"node-{node_id}",
        inbox_prefix=inbox_prefix(node_id),
        max_reconnect_attempts=-1,
        **options,
    )


async def run_node(options: NodeOptions, stop: asyncio.Event) -> None:
    schedule: list[ScheduledChange] = (
        parse_schedule(options.schedule.read_bytes()) if options.schedule else []
    )
    triton = TritonHost(
        load_bindings(options.model_modules or None),
        http_port=options.http_port,
        grpc_port=options.grpc_port,
        workspace=options.triton_workspace,
    )
    await asyncio.to_thread(triton.start)
    nc = await connect_as_node(
        options.nats_url, options.node_id, options.nats_user, options.nats_password
    )
    try:
        agent = NodeAgent(
            nc,
            NodeIdentity(
                node_id=options.node_id,
                owner_account=options.owner_account or f"owner-{options.node_id}",
                soc_floor=options.soc_floor,
            ),
            models=triton.model_names,
            heartbeat_interval_s=options.heartbeat_interval_s,
            state=CarState(
                state_of_charge=options.state_of_charge,
                reported_soc=options.state_of_charge,
                charging=options.charging,
            ),
            meter=triton.meter,
        )
        # Work arrives over the bus before the car says it exists: no lease finds it deaf.
        worker = await InferenceWorker(nc, options.node_id, triton.http_url).start()
        await agent.register()
        if options.min_charge is not None or options.work_hours is not None:
            await agent.set_preferences(
                min_state_of_charge=options.min_charge or 0.0,
                work_hours=ALL_HOURS if options.work_hours is None else options.work_hours,
                time_zone=options.time_zone,
            )
        # A node is a node while parked: unless the schedule says otherwise, it parks now.
        if not any(c.action == "park" and c.after_s == 0 for c in schedule):
            until = (
                parse_parked_until(options.parked_until, utcnow()) if options.parked_until else None
            )
            await agent.park(until)
        runner = asyncio.create_task(agent.run(schedule))
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([runner, waiter], return_when=asyncio.FIRST_COMPLETED)
        for task in (runner, waiter):
            task.cancel()
        await asyncio.gather(runner, waiter, return_exceptions=True)
        if runner.done() and not runner.cancelled() and runner.exception():
            raise runner.exception()  # type: ignore[misc]
        with contextlib.suppress(Exception):
            await agent.unpark()
        await worker.stop()
    finally:
        await nc.drain()
        await asyncio.to_thread(triton.stop)


def main(options: NodeOptions) -> None:
    configure_logging(f"node-{options.node_id}")

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_node(options, stop)

    asyncio.run(_main())

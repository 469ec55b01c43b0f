"""`mh up`: the whole platform on one machine, nothing installed beyond the project.

Embedded NATS (JetStream) and PostgreSQL under --data-dir, every service as its own
supervised OS process, K local car nodes. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import nats

from macrohard.cli.platform import PlatformRecord, admin_token, write_record
from macrohard.devkit.embedded import EmbeddedNats, EmbeddedPostgres
from macrohard.devkit.services import SERVICES
from macrohard.devkit.supervisor import ProcessSpec, Supervisor
from macrohard.eventlog.streams import ensure_streams
from macrohard.gateway.secrets import ensure_master_key


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("up", help="run the whole platform locally")
    p.add_argument("--data-dir", type=Path, default=Path(".mh"))
    p.add_argument("--http-port", type=int, default=8080, help="gateway port")
    p.add_argument("--nats-port", type=int, default=4222)
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument(
        "--metrics-port",
        type=int,
        default=9100,
        help="first Prometheus port; service i serves on metrics-port + i",
    )
    p.add_argument("--nodes", type=int, default=1, help="local car nodes to run")
    p.add_argument("--nats", dest="nats_url", help="use this NATS instead of an embedded one")
    p.add_argument("--database", dest="database_url", help="use this PostgreSQL DSN")
    p.add_argument(
        "--services", default=",".join(SERVICES), help="comma-separated subset of services to run"
    )
    p.add_argument(
        "--local-test-mode",
        action="store_true",
        help="let agents visit loopback pages (demo and benchmarks only)",
    )
    p.set_defaults(func=lambda args: asyncio.run(up(args)))


# The gateway seals task secrets with the master key and the actuator opens them; no other
# process is given it.
SECRET_HOLDERS = frozenset({"gateway", "actuator"})


def mh_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "macrohard.cli.main", *args]


def process_specs(
    args: argparse.Namespace, nats_url: str, database_url: str, token: str, secrets_key: str
) -> list[ProcessSpec]:
    common = {
        "MH_NATS_URL": nats_url,
        "MH_DATABASE_URL": database_url,
        "MH_DATA_DIR": str(args.data_dir.resolve()),
    }
    if args.local_test_mode:
        common["MH_LOCAL_TEST_MODE"] = "1"
    specs = []
    wanted = [s for s in args.services.split(",") if s]
    for i, name in enumerate(wanted):
        if name not in SERVICES:
            raise SystemExit(f"unknown service {name!r}")
        key = f"MH_{name.upper().replace('-', '_')}_"
        env = {**common, key + "METRICS_PORT": str(args.metrics_port + i)}
        if name in SECRET_HOLDERS:
            env["MH_SECRETS_KEY"] = secrets_key
        if name == "gateway":
            env[key + "HTTP_PORT"] = str(args.http_port)
            env["MH_ADMIN_TOKEN"] = token
        specs.append(ProcessSpec(name, mh_argv("run", name), env))
    for n in range(1, args.nodes + 1):
        specs.append(ProcessSpec(f"car-{n}", mh_argv("node", "--id", f"car-{n}"), dict(common)))
    return specs


async def _all_ready(gateway_url: str, nats_url: str, nodes: int) -> bool:
    gateway, cars = await asyncio.gather(
        wait_ready(gateway_url + "/readyz", 120), wait_cars_parked(nats_url, nodes, 120)
    )
    return gateway and cars


async def wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return True
            await asyncio.sleep(0.25)
    return False


async def wait_cars_parked(nats_url: str, nodes: int, timeout: float) -> bool:
    """True once every local car has registered and parked (its Triton serves its models).

    `ready:` must mean a task can run: without a parked car the planner has nowhere to
    lease the model from.
    """
    from macrohard.contracts.fleet import NodeParked
    from macrohard.contracts.subjects import PLATFORM_TENANT
    from macrohard.eventlog.store import EventStore

    nc = await nats.connect(nats_url)
    store = EventStore(nc)
    try:
        deadline = time.monotonic() + timeout
        waiting = {f"car-{n}" for n in range(1, nodes + 1)}
        while waiting and time.monotonic() < deadline:
            for car in sorted(waiting):
                events = await store.read_aggregate(PLATFORM_TENANT, "node", car)
                if any(isinstance(r.payload, NodeParked) for r in events):
                    waiting.discard(car)
            await asyncio.sleep(0.25)
        return not waiting
    finally:
        await store.close()
        await nc.close()


async def up(args: argparse.Namespace) -> None:
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    token = admin_token(data_dir, create=True)
    secrets_key = ensure_master_key(data_dir)
    servers: list[EmbeddedNats | EmbeddedPostgres] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisor = Supervisor()
    try:
        nats_url = args.nats_url
        if not nats_url:
            server = EmbeddedNats(
                data_dir / "nats", port=args.nats_port, log_file=data_dir / "nats.log"
            )
            servers.append(server.start())
            nats_url = server.url
        database_url = args.database_url
        if not database_url:
            pg = EmbeddedPostgres(
                data_dir / "postgres", port=args.pg_port, log_file=data_dir / "postgres.log"
            )
            servers.append(pg.start())
            database_url = pg.dsn
        nc = await nats.connect(nats_url)
        await ensure_streams(nc.jetstream())
        await nc.close()
        gateway_url = f"http://127.0.0.1:{args.http_port}"
        write_record(data_dir, PlatformRecord(nats_url, database_url, gateway_url, os.getpid()))
        supervisor.start(process_specs(args, nats_url, database_url, token, secrets_key))
        if "gateway" in args.services.split(","):
            ready = asyncio.create_task(_all_ready(gateway_url, nats_url, args.nodes))
            await asyncio.wait(
                [ready, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
            )
            if ready.done() and ready.result():
                where = (
                    "MH_ADMIN_TOKEN"
                    if os.environ.get("MH_ADMIN_TOKEN")
                    else data_dir / "admin-token"
                )
                print(f"ready: {gateway_url} (nats {nats_url}, admin token in {where})", flush=True)
            elif not stop.is_set():
                print("gateway or cars not ready in 120 s; still running", flush=True)
        else:
            print(f"ready: (no gateway) nats {nats_url}", flush=True)
        await stop.wait()
        print("stopping...", flush=True)
    finally:
        await supervisor.stop()
        for server in reversed(servers):
            server.stop()
        (data_dir / "platform.json").unlink(missing_ok=True)

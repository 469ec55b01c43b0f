"""`mh up`: the whole platform on one machine, nothing installed beyond the project.

Embedded NATS (JetStream) and PostgreSQL under --data-dir, every service as its own
supervised OS process, K local car nodes. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import nats

from macrohard.cli.platform import PlatformRecord, admin_token, write_record
from macrohard.contracts.nats_config import ADMIN_USER
from macrohard.devkit.cluster import IDENTITIES_DIR, NatsCluster
from macrohard.devkit.embedded import EmbeddedNats, EmbeddedPostgres, stop_orphans
from macrohard.devkit.readiness import wait_cars_parked, wait_ready
from macrohard.devkit.services import SECRET_HOLDERS, SERVICES
from macrohard.devkit.supervisor import PIDS_DIR, ProcessSpec, Supervisor, keep_serving
from macrohard.eventlog.streams import ensure_streams


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
        "--secure",
        action="store_true",
        help="the production topology: every service and car its own NATS identity with the "
        "permissions of deploy/nats (URLs in <data-dir>/identities/)",
    )
    p.add_argument(
        "--cluster",
        type=int,
        default=1,
        help="with --secure: NATS nodes on --nats-port, +1, ... (3: a JetStream cluster, "
        "streams replicated 3 times)",
    )
    p.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="processes per service (gateway replica r listens on --http-port + r - 1)",
    )
    p.add_argument(
        "--local-test-mode",
        action="store_true",
        help="let agents visit loopback pages (demo and benchmarks only)",
    )
    p.set_defaults(func=lambda args: asyncio.run(up(args)))


def mh_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "macrohard.cli.main", *args]


def car_ids(nodes: int) -> list[str]:
    return [f"car-{n}" for n in range(1, nodes + 1)]


def process_specs(
    args: argparse.Namespace,
    nats_url: Callable[[str], str],
    database_url: str,
    token: str,
    secrets_key: str,
) -> list[ProcessSpec]:
    """Every process `mh up` supervises; `nats_url(identity)` is that identity's URL."""
    common = {"MH_DATABASE_URL": database_url, "MH_DATA_DIR": str(args.data_dir.resolve())}
    if args.local_test_mode:
        common["MH_LOCAL_TEST_MODE"] = "1"
    specs = []
    wanted = [s for s in args.services.split(",") if s]
    replicas = max(1, getattr(args, "replicas", 1))
    metrics = args.metrics_port
    for name in wanted:
        if name not in SERVICES:
            raise SystemExit(f"unknown service {name!r}")
        key = f"MH_{name.upper().replace('-', '_')}_"
        for r in range(replicas):
            env = {**common, "MH_NATS_URL": nats_url(name), key + "METRICS_PORT": str(metrics)}
            metrics += 1
            if name in SECRET_HOLDERS:
                env["MH_SECRETS_KEY"] = secrets_key
            if name == "gateway":
                env[key + "HTTP_PORT"] = str(args.http_port + r)
                env["MH_ADMIN_TOKEN"] = token
            label = f"{name}-{r + 1}" if replicas > 1 else name
            specs.append(ProcessSpec(label, mh_argv("run", name), env))
    for car in car_ids(args.nodes):
        env = {**common, "MH_NATS_URL": nats_url(car)}
        specs.append(ProcessSpec(car, mh_argv("node", "--id", car), env))
    return specs


async def provision_streams(admin_url: str, data_dir: Path, replicas: int) -> int:
    """`mh streams init --replicas R` as the operator: services only look the streams up
    (their NATS users may not create them), and must find them replicated."""
    from macrohard.cli.streams_cmd import init_streams

    return await init_streams(
        argparse.Namespace(
            nats_url=admin_url, database_url=None, data_dir=data_dir, replicas=replicas, wait=60.0
        )
    )


async def _all_ready(gateway_url: str, nats_url: str, nodes: int) -> bool:
    gateway, cars = await asyncio.gather(
        wait_ready(gateway_url + "/readyz", 120), wait_cars_parked(nats_url, nodes, 120)
    )
    return gateway and cars


def hold_data_dir(data_dir: Path) -> int:
    """Take `<data-dir>/up.lock` for as long as this process lives; the kernel drops it on
    any death. Holding it proves that servers still running on this data dir are orphans
    of a crashed run, safe to stop; failing to get it means another `mh up` is running."""
    fd = os.open(data_dir / "up.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SystemExit(f"another `mh up` is running on {data_dir}") from None
    return fd


async def up(args: argparse.Namespace) -> None:
    from macrohard.gateway.public import ensure_master_key  # the web stack: not for `mh --help`

    # Absolute from here on: children (PostgreSQL above all) change their working directory.
    args.data_dir = data_dir = Path(args.data_dir).absolute()
    data_dir.mkdir(parents=True, exist_ok=True)
    hold_data_dir(data_dir)
    for pid in stop_orphans(data_dir):
        print(f"stopped server pid {pid} left running on {data_dir} by an earlier run", flush=True)
    token = admin_token(data_dir, create=True)
    secrets_key = ensure_master_key(data_dir)
    servers: list[EmbeddedNats | EmbeddedPostgres | NatsCluster] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisor = Supervisor(pid_dir=data_dir / PIDS_DIR)
    keepers: list[asyncio.Task[None]] = []
    try:
        nats_url = args.nats_url
        cluster: NatsCluster | None = None
        if args.secure:
            if nats_url:
                raise SystemExit("--secure runs its own NATS cluster: drop --nats")
            cluster = NatsCluster(
                data_dir.resolve(),
                car_ids(args.nodes),
                size=args.cluster,
                first_port=args.nats_port,
                log_dir=data_dir,
            )
            servers.append(cluster.start())
            nats_url = cluster.url(ADMIN_USER)
            if await provision_streams(nats_url, data_dir, min(args.cluster, 3)) != 0:
                raise SystemExit("could not provision the streams on the NATS cluster")
        elif not nats_url:
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
        for embedded in servers:
            if isinstance(embedded, EmbeddedNats | EmbeddedPostgres):
                name = "nats" if isinstance(embedded, EmbeddedNats) else "postgres"
                keepers.append(asyncio.create_task(keep_serving(name, embedded)))
        for i, node in enumerate(cluster.nodes if cluster else []):
            # A dead node rejoins the cluster with its own store and config.
            keepers.append(asyncio.create_task(keep_serving(f"nats-{i + 1}", node)))
        if not args.secure:
            nc = await nats.connect(nats_url)
            await ensure_streams(nc.jetstream())
            await nc.close()
        # Secured: each identity its own URL; otherwise one unrestricted URL for everyone.
        shared: str = nats_url
        url_of: Callable[[str], str] = cluster.seed if cluster else (lambda _identity: shared)
        gateway_url = f"http://127.0.0.1:{args.http_port}"
        write_record(data_dir, PlatformRecord(nats_url, database_url, gateway_url, os.getpid()))
        supervisor.start(process_specs(args, url_of, database_url, token, secrets_key))
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
                shown = f"identities in {data_dir / IDENTITIES_DIR}" if args.secure else nats_url
                print(f"ready: {gateway_url} (nats {shown}, admin token in {where})", flush=True)
            elif not stop.is_set():
                print("gateway or cars not ready in 120 s; still running", flush=True)
        else:
            print(f"ready: (no gateway) nats {'secured' if args.secure else nats_url}", flush=True)
        await stop.wait()
        print("stopping...", flush=True)
    finally:
        await supervisor.stop()
        for keeper in keepers:
            keeper.cancel()
        await asyncio.gather(*keepers, return_exceptions=True)
        for started in reversed(servers):
            started.stop()
        (data_dir / "platform.json").unlink(missing_ok=True)

"""The drill's platform: `mh up --secure --cluster 3 --replicas 2`, run as an operator runs it,
and the kills it suffers.

The drill does not assemble a platform of its own: it starts the production topology with the
same command an operator types (a 3-node JetStream cluster with R3 streams, every service and
car its own NATS identity, two replicas of every service, PostgreSQL) and finds its processes
the way an operator would, through the files `mh up` keeps in the data dir: `pids/<name>.pid`
for each supervised replica and car, `nats-<i>.pid` for each NATS node, PostgreSQL's
`postmaster.pid`. Every victim is killed with SIGKILL and brought back by `mh up`'s own
supervision, never by the drill.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from macrohard.contracts.fleet import INFER_PREFIX
from macrohard.contracts.nats_config import ADMIN_USER
from macrohard.devkit.cluster import IDENTITIES_DIR
from macrohard.devkit.embedded import free_port, free_ports
from macrohard.devkit.lifeline import die_with_parent
from macrohard.devkit.readiness import wait_ready
from macrohard.devkit.services import SERVICES
from macrohard.devkit.supervisor import PIDS_DIR
from macrohard.eventlog.service import nats_servers

CLUSTER = 3
REPLICAS = 2
# Every kind of process the drill kills: each service, a NATS node, a car, PostgreSQL.
VICTIMS = (*SERVICES, "nats", "car", "postgres")


@dataclass(frozen=True, slots=True)
class Ports:
    http: int  # gateway replica r on http + r - 1
    nats: int  # node i on nats + i - 1
    pg: int
    metrics: int  # one per replica

    @staticmethod
    def pick(http: int | None, nats_: int | None, pg: int | None, metrics: int | None) -> Ports:
        return Ports(
            http or free_ports(REPLICAS),
            nats_ or free_ports(CLUSTER),
            pg or free_port(),
            metrics or free_ports(REPLICAS * len(SERVICES)),
        )


class _Record(msgspec.Struct):
    database_url: str


@dataclass
class Platform:
    """A running `mh up --secure --cluster 3 --replicas 2` and how to reach each part."""

    data_dir: Path
    ports: Ports
    cars: int
    proc: asyncio.subprocess.Process
    log: TextIO
    admin_url: str = ""  # every node: the drill's own connection survives a node's death
    dsn: str = ""
    admin_token: str = ""
    gateways: list[str] = field(default_factory=list)

    def node_url(self, node: int) -> str:
        return self.admin_url.split(",")[node]


def _mh(*args: str) -> list[str]:
    return [sys.executable, "-m", "macrohard.cli.main", *args]


async def start_platform(data_dir: Path, ports: Ports, cars: int) -> Platform:
    """Start `mh up` in production topology and wait until it prints `ready:`."""
    log = (data_dir / "services.log").open("a")  # the drill's own output is its report
    argv = _mh(
        "up", "--secure", "--cluster", str(CLUSTER), "--replicas", str(REPLICAS),
        "--nodes", str(cars), "--local-test-mode", "--data-dir", str(data_dir),
        "--http-port", str(ports.http), "--nats-port", str(ports.nats),
        "--pg-port", str(ports.pg), "--metrics-port", str(ports.metrics),
    )  # fmt: skip
    offset = log.tell()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        # If the drill dies, `mh up` stops (and its servers die with it).
        preexec_fn=die_with_parent(signal.SIGTERM),
    )
    platform = Platform(data_dir, ports, cars, proc, log)
    deadline = time.monotonic() + 300
    while not _printed(data_dir / "services.log", offset, "ready: "):
        if proc.returncode is not None or time.monotonic() > deadline:
            await stop_platform(platform)
            raise SystemExit(f"the platform did not get ready (see {data_dir}/services.log)")
        await asyncio.sleep(0.5)
    admin = (data_dir / IDENTITIES_DIR / f"{ADMIN_USER}.url").read_text().strip()
    platform.admin_url = ",".join(
        admin.replace(f":{ports.nats}", f":{ports.nats + i}") for i in range(CLUSTER)
    )
    platform.dsn = msgspec.json.decode(
        (data_dir / "platform.json").read_bytes(), type=_Record
    ).database_url
    platform.admin_token = (data_dir / "admin-token").read_text().strip()
    platform.gateways = [f"http://127.0.0.1:{ports.http + r}" for r in range(REPLICAS)]
    if not all(await asyncio.gather(*(wait_ready(g + "/readyz", 120) for g in platform.gateways))):
        await stop_platform(platform)
        raise SystemExit(f"a gateway replica did not get ready (see {data_dir}/services.log)")
    return platform


def _printed(path: Path, offset: int, prefix: str) -> bool:
    with path.open("rb") as f:
        f.seek(offset)
        return any(line.startswith(prefix.encode()) for line in f)


async def stop_platform(platform: Platform) -> None:
    """Ctrl-C, as an operator stops it; SIGKILL if it has not stopped in a minute."""
    proc = platform.proc
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 60)
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    platform.log.close()


def _pid(path: Path, expect: str) -> int | None:
    """The pid in `path` if that process is alive and `expect` is in its command line (a
    pid file left by a dead process may name someone else's process by now)."""
    try:
        pid = int(path.read_text().splitlines()[0])
        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return pid if expect.encode() in argv else None


class Chaos:
    """Kills one victim at a time, as `mh up`'s operator would see a crash."""

    def __init__(self, platform: Platform, rng: random.Random) -> None:
        self.platform = platform
        self.rng = rng
        self.kills: list[str] = []
        self._round: list[str] = []

    def next_victim(self) -> str:
        """Every kind of victim once per round, in a random order each round."""
        if not self._round:
            self._round = list(VICTIMS)
            self.rng.shuffle(self._round)
        return self._round.pop()

    async def kill(self, victim: str) -> str:
        """kill -9 one process of `victim`; what was killed ('' if it was down)."""
        data_dir = self.platform.data_dir
        if victim == "nats":
            node = self.rng.randint(1, CLUSTER)
            name, pid = f"nats-{node}", _pid(data_dir / f"nats-{node}.pid", "nats-server")
        elif victim == "postgres":
            pgdata = data_dir / "postgres" / "pgdata"
            name, pid = "postgres", _pid(pgdata / "postmaster.pid", str(pgdata))
        elif victim == "car":
            name = await self._car_in_inference()
            pid = _pid(data_dir / PIDS_DIR / f"{name}.pid", "macrohard.cli.main")
        else:
            # A random replica; the other one if that one is down (restarting after a kill).
            replicas = [f"{victim}-{r}" for r in range(1, REPLICAS + 1)]
            self.rng.shuffle(replicas)
            found = [
                (n, _pid(data_dir / PIDS_DIR / f"{n}.pid", "macrohard.cli.main")) for n in replicas
            ]
            name, pid = next(((n, p) for n, p in found if p is not None), (replicas[0], None))
        if pid is None:
            return ""
        with contextlib.suppress(ProcessLookupError):
            if victim in ("nats", "postgres"):
                os.kill(pid, signal.SIGKILL)
            else:
                os.killpg(pid, signal.SIGKILL)  # the whole group: a car's Triton, a Chromium
        self.kills.append(name)
        return name

    async def _car_in_inference(self) -> str:
        """The car that has just been asked to run a model (a kill then lands mid-inference);
        a random car if none is asked within 30 s."""
        asked: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def seen(msg: Msg) -> None:
            if not asked.done():
                asked.set_result(msg.subject.rsplit(".", 1)[-1])

        nc: NATS | None = None
        try:
            nc = await nats.connect(
                nats_servers(self.platform.admin_url), connect_timeout=5, max_reconnect_attempts=2
            )
            await nc.subscribe(f"{INFER_PREFIX}.*", cb=seen)
            return await asyncio.wait_for(asyncio.shield(asked), 30)
        except (TimeoutError, OSError, nats.errors.Error):
            return f"car-{self.rng.randint(1, self.platform.cars)}"
        finally:
            if nc is not None:
                await nc.close()

"""`mh bench gateway`: task submissions per second through the real HTTP API into the log.

The gateway runs as its own OS process (as under `mh up`: Service, projection, uvicorn) on
embedded NATS and PostgreSQL; `--clients` concurrent keep-alive connections POST /v1/tasks
(with a secret to seal, spread over `--tenants` tenants) for `--requests` submissions after a
warm-up. Every 202 means the TaskSubmitted event is in the log (the append is awaited); the
benchmark checks the log's count at the end. The client is a minimal HTTP/1.1 writer so that
the client's CPU on the same 2 cores stays small next to the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

TARGETS = {"submit_per_s": ">= 1,000", "p99_ms": "<= 50"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from macrohard.bench.servers import add_server_args

    p = sub.add_parser("gateway", help="POST /v1/tasks per second and latency, 50 clients")
    add_server_args(p)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=20_000, help="measured submissions")
    p.add_argument("--warmup", type=int, default=1_000)
    p.add_argument("--tenants", type=int, default=10)
    p.set_defaults(func=lambda args: asyncio.run(bench(args)))


class Connection:
    """One keep-alive HTTP/1.1 connection that sends POSTs and reads their responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def post(self, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        self.writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def task_body(i: int) -> bytes:
    return json.dumps(
        {
            "goal": f"bench task {i}: fill the form and submit it",
            "start_url": "https://example.com/form",
            "inputs": {"name": "Ada", "n": str(i)},
            "secrets": {"password": "bench-secret"},
            "max_steps": 20,
        }
    ).encode()


async def run_clients(
    port: int, tokens: list[str], clients: int, total: int
) -> tuple[float, list[float], int]:
    """(seconds, latencies in ms, non-202 count) for `total` submissions over `clients`."""
    conns = [await Connection.open(port) for _ in range(clients)]
    latencies: list[float] = []
    failures = 0
    counter = iter(range(total))

    async def client(n: int, conn: Connection) -> None:
        nonlocal failures
        token = tokens[n % len(tokens)]
        for i in counter:
            t0 = time.perf_counter()
            status, _ = await conn.post("/v1/tasks", task_body(i), token)
            latencies.append((time.perf_counter() - t0) * 1000)
            failures += status != 202

    started = time.perf_counter()
    await asyncio.gather(*(client(n, c) for n, c in enumerate(conns)))
    elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    return elapsed, latencies, failures


async def wait_ready(url: str, proc: asyncio.subprocess.Process, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"gateway exited with {proc.returncode}")
            try:
                if (await http.get(url + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("gateway did not become ready")


async def count_submitted(nats_url: str) -> int:
    import nats

    from macrohard.eventlog import ensure_streams

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        sub = await js.subscribe(
            "ev.*.task.*.TaskSubmitted", stream="EVENTS", ordered_consumer=True
        )
        info = await sub.consumer_info()
        await sub.unsubscribe()
        delivered = info.delivered.consumer_seq if info.delivered else 0
        return int(info.num_pending or 0) + int(delivered or 0)
    finally:
        await nc.close()


async def bench(args: argparse.Namespace) -> int:
    import httpx

    from macrohard.bench.report import report
    from macrohard.bench.servers import bench_servers
    from macrohard.devkit.embedded import free_port
    from macrohard.gateway.public import new_master_key

    admin = "mh_admin_bench"
    port = free_port()
    with bench_servers(args) as servers:
        before = await count_submitted(servers.nats_url)
        env = {
            **os.environ,
            "MH_NATS_URL": servers.nats_url,
            "MH_DATABASE_URL": servers.database_url,
            "MH_ADMIN_TOKEN": admin,
            "MH_SECRETS_KEY": new_master_key(),
            "MH_GATEWAY_HTTP_PORT": str(port),
            # The bench measures throughput, not the per-tenant limit.
            "MH_GATEWAY_RATE_PER_S": "1000000",
            "MH_GATEWAY_RATE_BURST": "1000000",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "macrohard.gateway.main", env=env
        )
        try:
            url = f"http://127.0.0.1:{port}"
            await wait_ready(url, proc)
            tokens = []
            async with httpx.AsyncClient(base_url=url, timeout=15, trust_env=False) as http:
                for n in range(args.tenants):
                    r = await http.post(
                        "/v1/tenants",
                        json={"name": f"bench-{n}"},
                        headers={"Authorization": f"Bearer {admin}"},
                    )
                    r.raise_for_status()
                    tokens.append(r.json()["api_key"])
            await run_clients(port, tokens, args.clients, args.warmup)
            elapsed, latencies, failures = await run_clients(
                port, tokens, args.clients, args.requests
            )
        finally:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                print("gateway did not stop within 30 s of SIGTERM; killed it", file=sys.stderr)
                proc.kill()
                await proc.wait()
        in_log = await count_submitted(servers.nats_url) - before
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    results = {
        "clients": args.clients,
        "submitted": len(latencies),
        "failed": failures,
        "in_log": in_log,
        "submit_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(q[49], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(latencies[-1], 2),
        "cpus": os.cpu_count() or 0,
    }
    report("mh bench gateway", results, args.json_path, TARGETS)
    expected = args.warmup + args.requests
    if failures or in_log != expected:
        print(f"error: {failures} failed, {in_log} in the log, expected {expected}")
        return 1
    return 0

"""`mh streams init --replicas 3` on a real 3-node JetStream cluster: what compose runs once
before any service starts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StorageType

from macrohard.contracts.subjects import DLQ_STREAM, EVENTS_STREAM
from macrohard.devkit.embedded import free_port, nats_server_binary, wait_for_port
from macrohard.eventlog.streams import dlq_stream_config, ensure_streams


def mh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "macrohard.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[str]]:
    """Three nats-servers routed into one JetStream cluster, like nats-1..3 in compose."""
    clients = [free_port() for _ in range(3)]
    routes = [free_port() for _ in range(3)]
    procs = []
    try:
        for i in range(3):
            conf = tmp_path / f"n{i}.conf"
            conf.write_text(
                f"server_name: n{i}\nlisten: 127.0.0.1:{clients[i]}\n"
                f'jetstream {{ store_dir: "{tmp_path / f"js{i}"}" }}\n'
                f"cluster {{ name: t, listen: 127.0.0.1:{routes[i]}, routes: ["
                + ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes)
                + "] }\n"
            )
            procs.append(
                subprocess.Popen(
                    [nats_server_binary(), "-c", str(conf)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port, proc in zip(clients, procs, strict=True):
            wait_for_port(port, 15.0, proc)
        yield [f"nats://127.0.0.1:{p}" for p in clients]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


async def test_init_creates_every_stream_replicated_three_times(cluster: list[str]) -> None:
    # A service that won the race created DLQ with one replica: init scales it up in place.
    nc = await nats.connect(cluster[1])
    js = nc.jetstream(timeout=2.0)
    for _ in range(100):  # the cluster elects its meta leader first
        try:
            await js.add_stream(dlq_stream_config(1))
            break
        except Exception:
            await asyncio.sleep(0.2)
    started = time.perf_counter()
    done = mh("streams", "init", "--replicas", "3", "--wait", "60", "--nats", cluster[0])
    assert done.returncode == 0, done.stderr
    print(f"streams init took {time.perf_counter() - started:.1f} s")
    assert "EVENTS: replicas=3" in done.stdout
    for name in (EVENTS_STREAM, DLQ_STREAM):
        info = await js.stream_info(name)
        assert info.config.num_replicas == 3, name
        assert info.config.storage == StorageType.FILE
    # Services then call ensure_streams with the default of one replica: nothing changes.
    await ensure_streams(js)
    assert (await js.stream_info(EVENTS_STREAM)).config.num_replicas == 3
    await nc.close()


def test_init_says_why_when_the_cluster_is_too_small(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 10.0, proc)
        failed = mh(
            "streams",
            "init",
            "--replicas",
            "3",
            "--wait",
            "5",
            "--nats",
            f"nats://127.0.0.1:{port}",
        )
        assert failed.returncode == 1
        assert "cannot create the streams with 3 replica(s)" in failed.stderr
    finally:
        proc.terminate()
        proc.wait(10)

"""A NATS node killed in the 3-node JetStream cluster loses no task.

The production topology (`mh up --secure --cluster 3`, compose): streams replicated 3 times.
The node leading EVENTS is killed -9 while tasks are being submitted; submitters retry what
was refused (the same event id, so nothing is stored twice), and a durable consumer of the
planner's kind must handle every task, while the node is down and after it is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from macrohard.contracts import envelope
from macrohard.contracts.envelope import RecordedEvent
from macrohard.contracts.nats_config import ADMIN_USER
from macrohard.contracts.subjects import EVENTS_STREAM
from macrohard.contracts.tasks import TaskSubmitted
from macrohard.devkit.cluster import NatsCluster
from macrohard.devkit.embedded import free_port
from macrohard.eventlog import LogUnavailable
from macrohard.eventlog.consumer import ConsumerSpec
from macrohard.eventlog.service import Service, ServiceConfig, nats_servers
from macrohard.eventlog.store import EventStore
from macrohard.eventlog.streams import ensure_streams

TASKS = 30


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    started = NatsCluster(tmp_path, [], size=3, ports=[free_port() for _ in range(3)]).start()
    yield started
    started.stop()


async def _until(check: object, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.1)


async def test_a_nats_node_killed_in_the_cluster_loses_no_task(cluster: NatsCluster) -> None:
    url = cluster.seed(ADMIN_USER)
    nc = await nats.connect(nats_servers(url), max_reconnect_attempts=-1)
    js = nc.jetstream()
    for _ in range(100):  # JetStream answers once the cluster has elected its meta leader
        try:
            await ensure_streams(js, replicas=3)
            break
        except (nats.errors.Error, TimeoutError):
            await asyncio.sleep(0.3)
    store = EventStore(nc)
    handled: set[str] = set()

    async def plan(rec: RecordedEvent) -> None:
        handled.add(rec.envelope.aggregate_id)

    planner = Service(ServiceConfig(name="planner", nats_url=url))
    planner.consume(
        ConsumerSpec(durable="cluster-test", subjects=["ev.*.task.*.TaskSubmitted"]), plan
    )
    await planner.start()

    async def submit(i: int) -> None:
        task = TaskSubmitted(task_id=f"t{i}", goal="g", start_url="https://example.com")
        env = envelope(task, tenant="acme", aggregate_id=f"t{i}")
        while True:  # what a client does on a 503: the same request again
            try:
                await store.append([env], expected_version=0)
                return
            except (LogUnavailable, nats.errors.Error, TimeoutError):
                await asyncio.sleep(0.2)

    try:
        leader = (await js.stream_info(EVENTS_STREAM)).cluster
        assert leader is not None and leader.leader is not None
        victim = next(n for i, n in enumerate(cluster.nodes) if leader.leader == f"mh-nats-{i + 1}")
        for i in range(TASKS):
            if i == TASKS // 3:
                assert victim.proc is not None
                victim.proc.kill()  # kill -9 the node leading the log
                victim.proc.wait()
            if i == 2 * TASKS // 3:
                victim.start()  # back with its own store; it catches up from the others
            await submit(i)
        await _until(lambda: len(handled) == TASKS, 60)
        assert handled == {f"t{i}" for i in range(TASKS)}
        for i in range(TASKS):  # each stored exactly once
            assert len(await store.read_aggregate("acme", "task", f"t{i}")) == 1
    finally:
        await planner.stop()
        await store.close()
        await nc.close()

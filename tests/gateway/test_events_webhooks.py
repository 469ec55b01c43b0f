"""SSE streaming with resume, and signed webhook delivery with retry, against the real gateway."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from macrohard.contracts import envelope
from macrohard.contracts.agent import Intent, IntentEmitted
from macrohard.contracts.browser import ActionExecuted
from macrohard.contracts.tasks import TaskCompleted, TaskStarted
from macrohard.eventlog import EventStore
from macrohard.gateway.domain import SIGNATURE_HEADER, verify_webhook
from tests.gateway.conftest import TASK, RunningGateway, onboard


async def read_sse(
    client: httpx.AsyncClient, path: str, *, count: int | None, last_id: int | None = None
) -> list[tuple[int, str, dict]]:
    """Events until `count` are read (then hang up) or the server ends the stream."""
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    out: list[tuple[int, str, dict]] = []
    async with client.stream("GET", path, headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async for line in r.aiter_lines():
            if line == "":
                if "data" in fields:
                    out.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                    if count is not None and len(out) >= count:
                        return out
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    return out


async def test_sse_live_and_resume(gw: RunningGateway, store: EventStore) -> None:
    t = await onboard(gw)
    async with gw.client(t.api_key) as c:
        task_id = (await c.post("/v1/tasks", json=TASK)).json()["task_id"]

        async def put(event, aggregate_id: str = task_id) -> None:  # type: ignore[no-untyped-def]
            await store.append(
                [envelope(event, tenant=t.tenant_id, aggregate_id=aggregate_id)],
                expected_version=None,
            )

        await put(TaskStarted(task_id=task_id, backend="offline"))
        # Live: the reader is already waiting when the next events are appended.
        reader = asyncio.create_task(read_sse(c, f"/v1/tasks/{task_id}/events", count=4))
        await asyncio.sleep(0.3)
        await put(IntentEmitted(task_id=task_id, step=1, intent=Intent(action="click", element=1)))
        await put(
            ActionExecuted(task_id=task_id, step=1, intent_event_id="i", action="click", ok=True)
        )
        first = await asyncio.wait_for(reader, 10)
        assert [e[1] for e in first] == [
            "TaskSubmitted",
            "TaskStarted",
            "IntentEmitted",
            "ActionExecuted",
        ]
        ids = [e[0] for e in first]
        assert ids == sorted(ids) and first[0][2]["payload"]["task_id"] == task_id
        # Resume after the second event: exactly the rest, then the stream ends at the end.
        await put(TaskCompleted(task_id=task_id, steps=1, result="ok"))
        rest = await asyncio.wait_for(
            read_sse(c, f"/v1/tasks/{task_id}/events", count=None, last_id=ids[1]), 10
        )
        assert [e[1] for e in rest] == ["IntentEmitted", "ActionExecuted", "TaskCompleted"]
        assert [e[0] for e in rest][:2] == ids[2:]


class Receiver:
    """A plain HTTP/1.1 receiver: answers 500 `fail_first` times, then 204."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[dict[str, str], bytes, float]] = []
        self.done = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (h.partition(":") for h in head.split("\r\n")[1:] if h)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.received.append((headers, body, time.monotonic()))
        ok = len(self.received) > self.fail_first
        writer.write(
            (b"HTTP/1.1 204 No Content" if ok else b"HTTP/1.1 500 Oops")
            + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        writer.close()
        if ok:
            self.done.set()


async def test_webhook_signed_and_retried(gw: RunningGateway, store: EventStore) -> None:
    receiver = Receiver(fail_first=1)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        t = await onboard(gw)
        async with gw.client(t.api_key) as c:
            body = {**TASK, "webhook_url": f"http://127.0.0.1:{port}/hook"}
            task_id = (await c.post("/v1/tasks", json=body)).json()["task_id"]
        done = envelope(
            TaskCompleted(task_id=task_id, steps=3, result="done"),
            tenant=t.tenant_id,
            aggregate_id=task_id,
        )
        await store.append([done], expected_version=None)
        await asyncio.wait_for(receiver.done.wait(), 20)
    finally:
        server.close()
        await server.wait_closed()
    assert len(receiver.received) == 2  # one refusal, one retry after backoff
    (_, _, t0), (headers, raw, t1) = receiver.received
    assert t1 - t0 >= 0.9
    assert headers["macrohard-delivery"] == done.id
    assert verify_webhook(
        t.webhook_secret, raw, headers[SIGNATURE_HEADER.lower()], now=int(time.time())
    )
    assert not verify_webhook(
        "whsec_wrong", raw, headers[SIGNATURE_HEADER.lower()], now=int(time.time())
    )
    payload = json.loads(raw)
    assert payload["task_id"] == task_id and payload["status"] == "completed"
    assert payload["result"] == "done" and payload["steps"] == 3

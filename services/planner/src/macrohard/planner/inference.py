"""Calling a model on a leased car: lease, call Triton (KServe v2 over HTTP), meter, retry.

The planner never hosts a model. For each (task, model) it leases a node from the registry
(request-reply), keeps the lease for the task's later steps and renews it, and calls the
node's Triton with `tritonclient.http.aio`. A car can leave mid-call: when the registry
revokes the lease (LeaseRevoked, seen live on core NATS), the call in flight is abandoned at
once; a timeout or an error does the same. Either way the client leases another node,
excluding the ones that failed this call, and retries, so the task does not fail because a
driver came back. Each successful call appends one InferenceCompleted to the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec
import numpy as np
import numpy.typing as npt
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from macrohard.contracts import caused_by, envelope
from macrohard.contracts.agent import InferenceCompleted
from macrohard.contracts.envelope import Envelope, utcnow
from macrohard.contracts.fleet import (
    LEASE_RELEASE,
    LEASE_RENEW,
    LEASE_REQUEST,
    LEASE_REVOCATIONS,
    LeaseRelease,
    LeaseRenewal,
    LeaseReply,
    LeaseRequest,
)
from macrohard.eventlog.store import EventStore

log = logging.getLogger("macrohard.planner.inference")

Array = npt.NDArray[np.generic]
_decode_reply = msgspec.json.Decoder(LeaseReply).decode


class InferenceFailed(RuntimeError):
    """Every attempt failed, or no node could be leased. Carries what each attempt saw."""

    def __init__(self, model: str, task_id: str, attempts: list[str]) -> None:
        super().__init__(
            f"inference of {model!r} for task {task_id} failed after {len(attempts)} "
            f"attempt(s): " + "; ".join(attempts)
        )
        self.model = model
        self.task_id = task_id
        self.attempts = attempts


class LeaseLost(Exception):
    """The lease under a call was revoked while the call was in flight."""


@dataclass
class HeldLease:
    lease_id: str
    node_id: str
    owner_account: str
    url: str
    power_w: float
    expires_at: datetime
    revoked: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True)
class InferenceResult:
    outputs: dict[str, Array]
    node_id: str
    lease_id: str
    compute_ms: float
    attempts: int
    event: InferenceCompleted
    # Stream sequence of the appended InferenceCompleted: the task aggregate's version right
    # after it, for a caller that appends to the same task with an expected version.
    version: int = 0


def _nbytes(arrays: Mapping[str, Array]) -> int:
    total = 0
    for a in arrays.values():
        if a.dtype == np.object_:
            total += sum(len(x) if isinstance(x, bytes) else len(str(x)) for x in a.reshape(-1))
        else:
            total += a.nbytes
    return total


def _triton_dtype(a: Array) -> str:
    if a.dtype == np.object_ or a.dtype.kind in "SU":
        return "BYTES"
    from tritonclient.utils import np_to_triton_dtype

    return str(np_to_triton_dtype(a.dtype))


class InferenceClient:
    """One per planner process. `infer` is safe to call concurrently for different tasks."""

    def __init__(
        self,
        nc: NATS,
        store: EventStore,
        *,
        timeout_s: float = 10.0,
        lease_ttl_s: float = 60.0,
        max_attempts: int = 4,
        request_timeout_s: float = 2.0,
    ) -> None:
        self.nc = nc
        self.store = store
        self.timeout_s = timeout_s
        self.lease_ttl_s = lease_ttl_s
        self.max_attempts = max_attempts
        self.request_timeout_s = request_timeout_s
        self._leases: dict[tuple[str, str], HeldLease] = {}  # (task_id, model)
        self._by_id: dict[str, HeldLease] = {}
        self._clients: dict[str, object] = {}
        self._revocations: Subscription | None = None

    async def _watch_revocations(self) -> None:
        if self._revocations is not None:
            return
        decoder = msgspec.json.Decoder()

        async def on_revoked(msg: Msg) -> None:
            payload = decoder.decode(msg.data).get("payload", {})
            held = self._by_id.get(payload.get("lease_id", ""))
            if held is not None:
                held.revoked.set()
                log.info("lease revoked under us", extra={"lease_id": held.lease_id})

        # Core NATS sees every message the stream stores, as it is stored: no consumer needed.
        self._revocations = await self.nc.subscribe(LEASE_REVOCATIONS, cb=on_revoked)

    async def _request(self, subject: str, body: msgspec.Struct) -> LeaseReply:
        reply = await self.nc.request(
            subject, msgspec.json.encode(body), timeout=self.request_timeout_s
        )
        return _decode_reply(reply.data)

    async def _lease(
        self, tenant_id: str, task_id: str, model: str, exclude: Sequence[str]
    ) -> HeldLease:
        key = (task_id, model)
        held = self._leases.get(key)
        if held is not None and not held.revoked.is_set() and held.node_id not in exclude:
            if held.expires_at - utcnow() < timedelta(seconds=self.lease_ttl_s / 3):
                renewed = await self._request(
                    LEASE_RENEW, LeaseRenewal(lease_id=held.lease_id, ttl_s=self.lease_ttl_s)
                )
                if renewed.ok and renewed.expires_at is not None:
                    held.expires_at = renewed.expires_at
                    return held
            else:
                return held
        if held is not None:
            await self._drop(key)
        reply = await self._request(
            LEASE_REQUEST,
            LeaseRequest(
                tenant_id=tenant_id,
                task_id=task_id,
                model=model,
                ttl_s=self.lease_ttl_s,
                exclude_nodes=list(exclude),
            ),
        )
        if not reply.ok or reply.expires_at is None:
            raise LookupError(reply.error or "no lease")
        held = HeldLease(
            lease_id=reply.lease_id,
            node_id=reply.node_id,
            owner_account=reply.owner_account,
            url=reply.triton_http_url,
            power_w=reply.power_w,
            expires_at=reply.expires_at,
        )
        self._leases[key] = held
        self._by_id[held.lease_id] = held
        return held

    async def _drop(self, key: tuple[str, str]) -> None:
        held = self._leases.pop(key, None)
        if held is None:
            return
        self._by_id.pop(held.lease_id, None)
        if not held.revoked.is_set():
            with contextlib.suppress(Exception):  # best effort: it expires anyway
                await self._request(LEASE_RELEASE, LeaseRelease(lease_id=held.lease_id))

    def _client(self, url: str) -> object:
        from tritonclient.http.aio import InferenceServerClient

        client = self._clients.get(url)
        if client is None:
            client = InferenceServerClient(url.split("://", 1)[-1], conn_timeout=self.timeout_s)
            self._clients[url] = client
        return client

    async def _call(
        self, held: HeldLease, model: str, inputs: Mapping[str, Array], outputs: Sequence[str]
    ) -> dict[str, Array]:
        from tritonclient.http.aio import InferInput, InferRequestedOutput

        infer_inputs = []
        for name, array in inputs.items():
            item = InferInput(name, list(array.shape), _triton_dtype(array))
            item.set_data_from_numpy(array)
            infer_inputs.append(item)
        client = self._client(held.url)
        call = asyncio.ensure_future(
            client.infer(  # type: ignore[attr-defined]
                model, infer_inputs, outputs=[InferRequestedOutput(o) for o in outputs]
            )
        )
        revoked = asyncio.ensure_future(held.revoked.wait())
        try:
            done, _ = await asyncio.wait(
                [call, revoked], timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            revoked.cancel()
        if call in done:
            result = call.result()
            return {o: result.as_numpy(o) for o in outputs}
        call.cancel()
        with contextlib.suppress(BaseException):
            await call
        if revoked in done:
            raise LeaseLost(f"lease {held.lease_id} on {held.node_id} revoked mid-call")
        raise TimeoutError(f"{held.node_id} did not answer in {self.timeout_s}s")

    async def infer(
        self,
        *,
        tenant_id: str,
        task_id: str,
        step: int,
        model: str,
        inputs: Mapping[str, Array],
        outputs: Sequence[str],
        cause: Envelope | None = None,
    ) -> InferenceResult:
        """Run `model` on a leased car, retrying on another car after a revocation, a
        timeout or an error; append InferenceCompleted for the call that succeeded."""
        await self._watch_revocations()
        failed_nodes: list[str] = []
        attempts: list[str] = []
        for attempt in range(1, self.max_attempts + 1):
            try:
                held = await self._lease(tenant_id, task_id, model, failed_nodes)
            except (LookupError, TimeoutError) as exc:
                attempts.append(f"lease: {exc}")
                await asyncio.sleep(min(0.2 * attempt, 1.0))
                continue
            started = time.perf_counter()
            try:
                result = await self._call(held, model, inputs, outputs)
            except Exception as exc:
                attempts.append(f"{held.node_id}: {type(exc).__name__}: {exc}")
                log.warning(
                    "inference attempt failed, retrying elsewhere",
                    extra={"node_id": held.node_id, "task_id": task_id, "error": str(exc)},
                )
                failed_nodes.append(held.node_id)
                await self._drop((task_id, model))
                continue
            compute_ms = (time.perf_counter() - started) * 1000
            event = InferenceCompleted(
                task_id=task_id,
                step=step,
                model=model,
                node_id=held.node_id,
                owner_account=held.owner_account,
                lease_id=held.lease_id,
                compute_ms=round(compute_ms, 3),
                input_bytes=_nbytes(inputs),
                output_bytes=_nbytes(result),
                # Chip power over the call's duration: W x ms -> Wh.
                energy_wh=held.power_w * compute_ms / 3_600_000,
            )
            appended = await self.store.append(
                [self._envelope(event, tenant_id, cause)], expected_version=None
            )
            return InferenceResult(
                result, held.node_id, held.lease_id, compute_ms, attempt, event, appended.version
            )
        raise InferenceFailed(model, task_id, attempts)

    @staticmethod
    def _envelope(event: InferenceCompleted, tenant_id: str, cause: Envelope | None) -> Envelope:
        if cause is not None:
            # Derived id: a redelivered step re-appends the same event and JetStream drops it.
            return caused_by(
                event,
                cause,
                aggregate_id=event.task_id,
                tenant=tenant_id,
                purpose=f"inference:{event.step}:{event.model}",
            )
        return envelope(event, tenant=tenant_id, aggregate_id=event.task_id)

    async def release_task(self, task_id: str) -> None:
        """Give back every lease a finished task holds."""
        for key in [k for k in self._leases if k[0] == task_id]:
            await self._drop(key)

    async def close(self) -> None:
        for key in list(self._leases):
            await self._drop(key)
        if self._revocations is not None:
            await self._revocations.unsubscribe()
            self._revocations = None
        for client in self._clients.values():
            await client.close()  # type: ignore[attr-defined]
        self._clients.clear()


__all__ = ["InferenceClient", "InferenceFailed", "InferenceResult"]

"""Calling a model on a leased car: lease, send the work over the bus, meter, retry.

The planner never hosts a model. For each (task, model) it leases a node from the registry
(request-reply), keeps the lease for the task's later steps and renews it, and sends the call
to the car's own subject (`fleet.infer.<node_id>`, KServe v2 tensors in msgpack); the car's
node agent runs it on its local Triton. Nothing here ever dials an address a car declared.

What the call is billed and paid for is measured here, never taken from the car: compute_ms
is this process's clock around the request (capped at the call's timeout), and energy is
that time at the chip power the registry attests (bounded by the chip's spec).

A car can leave mid-call: when the registry
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
import nats.errors
import numpy as np
import numpy.typing as npt
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError

from macrohard.contracts import caused_by, envelope, tensors
from macrohard.contracts.agent import InferenceCompleted, InferenceDisputed, InferenceVerified
from macrohard.contracts.envelope import Envelope, Event, utcnow
from macrohard.contracts.fleet import (
    LEASE_RELEASE,
    LEASE_RENEW,
    LEASE_REQUEST,
    LEASE_REVOCATIONS,
    InferenceRequest,
    LeaseRelease,
    LeaseRenewal,
    LeaseReply,
    LeaseRequest,
    WireTensor,
    infer_subject,
)
from macrohard.eventlog.store import EventStore
from macrohard.planner.verification import Verdict, agree, digest, judge, sampled

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
    power_w: float
    expires_at: datetime
    verify_share: float = 1.0
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


@dataclass(frozen=True, slots=True)
class Call:
    """One car's answer to one call, as the platform measured it."""

    held: HeldLease
    answer: list[WireTensor]
    arrays: dict[str, Array]
    compute_ms: float
    attempts: int


def _purposes(events: Sequence[Event], step: int, model: str) -> list[str]:
    """Derived-id purposes: the used answer keeps the id it always had; checks and verdicts
    get their own, per car, so a redelivered step stores each once."""
    out = []
    for e in events:
        if isinstance(e, InferenceCompleted):
            out.append(
                f"inference:{step}:{model}"
                if not e.verification
                else f"inference:{step}:{model}:check:{e.node_id}"
            )
        else:
            out.append(f"{type(e).__name__}:{step}:{model}")
    return out


class CarError(RuntimeError):
    """The car answered, with an error (busy, a bad model, its Triton failing)."""


def _car_gone(exc: BaseException) -> bool:
    """The call failed because the car is not there (it went away, or has not taken work
    from the bus yet), not because it refused the request.

    No responders on the car's subject means no agent listens there: a car the registry
    knows (from the log, or from a registration that precedes its worker) but that is not
    up. The task waits for it or another within its deadline, as for a car that left."""
    gone = LeaseLost | TimeoutError | OSError | nats.errors.NoRespondersError
    return isinstance(exc, gone) or "connect" in str(exc).lower()


class InferenceClient:
    """One per planner process. `infer` is safe to call concurrently for different tasks."""

    def __init__(
        self,
        nc: NATS,
        store: EventStore,
        *,
        timeout_s: float = 10.0,
        # The registry caps a lease at the loss-detection time (30 s): a dead planner's
        # leases end that soon. A live one renews, also while a long call is in flight.
        lease_ttl_s: float = 30.0,
        max_attempts: int = 4,
        request_timeout_s: float = 2.0,
        car_wait_s: float = 300.0,
    ) -> None:
        self.nc = nc
        self.car_wait_s = car_wait_s
        self.store = store
        self.timeout_s = timeout_s
        self.lease_ttl_s = lease_ttl_s
        self.max_attempts = max_attempts
        self.request_timeout_s = request_timeout_s
        self._leases: dict[tuple[str, str], HeldLease] = {}  # (task_id, model)
        self._by_id: dict[str, HeldLease] = {}
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
        self, tenant_id: str, task_id: str, model: str, exclude: Sequence[str], slot: str = ""
    ) -> HeldLease:
        key = (task_id, model + slot)
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
            power_w=reply.power_w,
            expires_at=reply.expires_at,
            verify_share=reply.verify_share,
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

    async def _lease_waiting(
        self,
        tenant_id: str,
        task_id: str,
        model: str,
        failed_nodes: list[str],
        deadline: float,
        attempts: list[str],
        slot: str = "",
        keep: Sequence[str] = (),
    ) -> HeldLease | None:
        """A lease, waiting for one until `deadline`; None when none came.

        Not getting a lease is not a failure of the task: the registry may be restarting
        (no responders, timeouts) or every car busy. The wait backs off to 2 s between asks.
        `keep` are cars never to retry (a verification never asks the car it checks).
        """
        pause = 0.1
        while True:
            try:
                return await self._lease(tenant_id, task_id, model, failed_nodes, slot)
            except (LookupError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
                reason = str(exc) or type(exc).__name__
                if not attempts or attempts[-1] != f"lease: {reason}":
                    attempts.append(f"lease: {reason}")
                if isinstance(exc, LookupError) and len(failed_nodes) > len(keep):
                    # The cars that failed this call may be all there is; try them again.
                    failed_nodes[:] = list(keep)
            if time.monotonic() + pause > deadline:
                return None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def _keep_renewed(self, held: HeldLease) -> None:
        """Renew the lease under a call that outlasts a third of its TTL."""
        while True:
            await asyncio.sleep(self.lease_ttl_s / 3)
            with contextlib.suppress(TimeoutError, NatsError):
                renewed = await self._request(
                    LEASE_RENEW, LeaseRenewal(lease_id=held.lease_id, ttl_s=self.lease_ttl_s)
                )
                if renewed.ok and renewed.expires_at is not None:
                    held.expires_at = renewed.expires_at

    async def _call(
        self, held: HeldLease, model: str, inputs: list[WireTensor], outputs: Sequence[str]
    ) -> list[WireTensor]:
        request = InferenceRequest(
            lease_id=held.lease_id, model=model, inputs=inputs, outputs=list(outputs)
        )
        call = asyncio.ensure_future(
            self.nc.request(
                infer_subject(held.node_id), tensors.encode(request), timeout=self.timeout_s
            )
        )
        revoked = asyncio.ensure_future(held.revoked.wait())
        renewing = asyncio.ensure_future(self._keep_renewed(held))
        try:
            done, _ = await asyncio.wait(
                [call, revoked], timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            revoked.cancel()
            renewing.cancel()
        if call in done:
            reply = tensors.decode_reply(call.result().data)
            if not reply.ok:
                raise CarError(reply.error)
            if sorted(t.name for t in reply.outputs) != sorted(outputs):
                raise CarError(f"answered {[t.name for t in reply.outputs]}, not {outputs}")
            return reply.outputs
        call.cancel()
        with contextlib.suppress(BaseException):
            await call
        if revoked in done:
            raise LeaseLost(f"lease {held.lease_id} on {held.node_id} revoked mid-call")
        raise TimeoutError(f"{held.node_id} did not answer in {self.timeout_s}s")

    async def _answer(
        self,
        tenant_id: str,
        task_id: str,
        model: str,
        inputs: list[WireTensor],
        outputs: Sequence[str],
        exclude: Sequence[str],
        slot: str = "",
        wait_s: float | None = None,
    ) -> Call:
        """One answer from some leased car, retrying on another after a revocation, a
        timeout or an error, waiting for a car up to `wait_s` (default: the client's
        `car_wait_s`). Nothing is appended here."""
        failed_nodes: list[str] = list(exclude)
        attempts: list[str] = []
        wait = self.car_wait_s if wait_s is None else wait_s
        lease_deadline = time.monotonic() + wait
        attempt = errors = 0
        while True:
            attempt += 1
            held = await self._lease_waiting(
                tenant_id, task_id, model, failed_nodes, lease_deadline, attempts, slot, exclude
            )
            if held is None:
                attempts.append(f"no car could be leased within {wait:g}s")
                break
            started = time.perf_counter()
            try:
                answer = await self._call(held, model, inputs, outputs)
                arrays = tensors.arrays(answer)
            # What a car or the bus can do to a call: answer an error, vanish (timeout, no
            # responders, a dropped connection), lose its lease, or send garbage (decode
            # errors are ValueErrors).
            except (CarError, LeaseLost, TimeoutError, NatsError, OSError, ValueError) as exc:
                attempts.append(f"{held.node_id}: {type(exc).__name__}: {exc}")
                log.warning(
                    "inference attempt failed, retrying elsewhere",
                    extra={"node_id": held.node_id, "task_id": task_id, "error": str(exc)},
                )
                failed_nodes.append(held.node_id)
                await self._drop((task_id, model + slot))
                # A car that left, was revoked or is unreachable is the fleet's churn: the
                # task waits for another within its deadline. A car that answered with an
                # error counts against max_attempts.
                if not _car_gone(exc):
                    errors += 1
                if errors >= self.max_attempts or time.monotonic() > lease_deadline:
                    break
                await asyncio.sleep(min(0.25 * attempt, 2.0))
                continue
            # Our clock, capped at the timeout: a slow car is not paid for being slow.
            compute_ms = min((time.perf_counter() - started) * 1000, self.timeout_s * 1000)
            return Call(held, answer, arrays, compute_ms, attempt)
        raise InferenceFailed(model, task_id, attempts)

    async def _check(
        self,
        tenant_id: str,
        task_id: str,
        model: str,
        inputs: list[WireTensor],
        outputs: Sequence[str],
        first: Call,
    ) -> list[Call]:
        """Re-execute on a second car; on disagreement, a third. Verification leases are
        one call each (a car checking others holds no slot for the task's later steps)."""
        calls = [first]
        while len(calls) < 3:
            try:
                calls.append(
                    await self._answer(
                        tenant_id, task_id, model, inputs, outputs,
                        exclude=[c.held.node_id for c in calls], slot="#verify",
                        wait_s=0.0,  # a check takes a free car now or is skipped
                    )
                )  # fmt: skip
            except InferenceFailed as exc:
                # No other car could check it: the answer stands unverified (logged; the
                # registry keeps sampling this car's later calls).
                log.warning("could not verify", extra={"task_id": task_id, "error": str(exc)})
                break
            finally:
                await self._drop((task_id, model + "#verify"))
            if agree(calls[0].answer, calls[-1].answer):
                break
        return calls

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
        car_wait_s: float | None = None,
    ) -> InferenceResult:
        """Run `model` on a leased car, retrying on another car after a revocation, a
        timeout or an error (waiting up to `car_wait_s` for a car); verify a sample of
        calls on other cars; append what happened (InferenceCompleted per answer used or
        checked, InferenceVerified or InferenceDisputed) and return the majority's answer."""
        await self._watch_revocations()
        wire_inputs = tensors.wire(inputs)
        first = await self._answer(
            tenant_id, task_id, model, wire_inputs, outputs, exclude=[], wait_s=car_wait_s
        )
        calls = [first]
        if sampled(first.held.verify_share, task_id, step, model, first.held.node_id):
            calls = await self._check(tenant_id, task_id, model, wire_inputs, outputs, first)
        verdict = judge([c.answer for c in calls]) if len(calls) > 1 else None
        events = self._outcome(task_id, step, model, wire_inputs, calls, verdict)
        used = None
        if verdict is None:
            used = first
        elif verdict.decided:
            used = calls[verdict.majority[0]]
        nodes = [c.held.node_id for c in calls]
        envs = [
            self._envelope(e, tenant_id, task_id, cause, purpose)
            for e, purpose in zip(events, _purposes(events, step, model), strict=True)
        ]
        appended = await self.store.append(envs, expected_version=None)
        if verdict is not None and 0 in verdict.wrong:
            await self._drop((task_id, model))  # never ask a car that lied again
        if used is None:
            raise InferenceFailed(
                model, task_id, [f"{n}: answers disagreed, no majority" for n in nodes]
            )
        answer_event = next(
            e for e in events if isinstance(e, InferenceCompleted) and not e.verification
        )
        return InferenceResult(
            used.arrays, used.held.node_id, used.held.lease_id, used.compute_ms,
            used.attempts, answer_event, appended.version,
        )  # fmt: skip

    @classmethod
    def _outcome(
        cls,
        task_id: str,
        step: int,
        model: str,
        inputs: list[WireTensor],
        calls: list[Call],
        verdict: Verdict | None,
    ) -> list[Event]:
        """The events of one verified (or unverified) call: an InferenceCompleted for the
        answer used and for each agreeing check, none for a wrong answer (it earns nothing
        and is billed to nobody) nor when no two cars agreed; then the verdict."""
        if verdict is None:
            return [cls._completed(task_id, step, model, inputs, calls[0], check="")]
        checked = calls[0].held.node_id  # every check re-executes the first car's call
        used = calls[verdict.majority[0]] if verdict.decided else None
        # Checks first, then the answer used: billing charges a check's cost to the checked
        # car before it pays that car's answer, so the car's pay never runs ahead of it.
        events: list[Event] = [
            cls._completed(task_id, step, model, inputs, calls[i], check=checked, bound=used)
            for i in verdict.majority[1:]
        ]
        if used is not None:
            events.append(cls._completed(task_id, step, model, inputs, used, check=""))
        nodes = [c.held.node_id for c in calls]
        if verdict.decided and not verdict.wrong:
            events.append(InferenceVerified(
                task_id=task_id, step=step, model=model, node_id=nodes[0], verifiers=nodes[1:],
            ))  # fmt: skip
        else:
            events.append(InferenceDisputed(
                task_id=task_id, step=step, model=model, node_ids=nodes,
                majority=[nodes[i] for i in verdict.majority],
                wrong=[nodes[i] for i in verdict.wrong],
                digests={c.held.node_id: digest(c.answer) for c in calls},
            ))  # fmt: skip
        return events

    @staticmethod
    def _completed(
        task_id: str,
        step: int,
        model: str,
        inputs: list[WireTensor],
        call: Call,
        *,
        check: str,
        bound: Call | None = None,
    ) -> InferenceCompleted:
        """The answer used (`check` ""), or a check of the car `check` names. A check is
        metered at most the time of the answer it repeated (`bound`): the same work, and a
        slow checker is not paid for being slow."""
        held = call.held
        compute_ms = call.compute_ms if bound is None else min(call.compute_ms, bound.compute_ms)
        return InferenceCompleted(
            task_id=task_id,
            step=step,
            model=model,
            node_id=held.node_id,
            owner_account=held.owner_account,
            lease_id=held.lease_id,
            compute_ms=round(compute_ms, 3),
            input_bytes=sum(tensors.nbytes(t) for t in inputs),
            output_bytes=sum(tensors.nbytes(t) for t in call.answer),
            # Chip power over the call's duration: W x ms -> Wh.
            energy_wh=held.power_w * compute_ms / 3_600_000,
            verification=bool(check),
            checks=check,
        )

    @staticmethod
    def _envelope(
        event: Event, tenant_id: str, task_id: str, cause: Envelope | None, purpose: str
    ) -> Envelope:
        if cause is not None:
            # Derived id: a redelivered step re-appends the same event and JetStream drops it.
            return caused_by(event, cause, aggregate_id=task_id, tenant=tenant_id, purpose=purpose)
        return envelope(event, tenant=tenant_id, aggregate_id=task_id)

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


__all__ = ["InferenceClient", "InferenceFailed", "InferenceResult"]

"""Where the planner's decisions come from: one interface, several model backends.

- `TritonBackend` (default): the offline planner model on a leased car node, through the
  fleet's inference client (which leases, retries on another node and records
  InferenceCompleted).
- `InProcessBackend`: the same model called in this process (tests, and the benchmark when
  no node is up). Same code, same answers.
- `ChatBackend` (chat.py): any OpenAI-compatible endpoint.

A backend never raises for a bad model answer: it returns a `fail` intent with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageObservation
from macrohard.contracts.envelope import Envelope
from macrohard.planner.domain import PLANNER_MODEL, PastIntent
from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide
from macrohard.planner_model.web_planner.page import Embed

if TYPE_CHECKING:
    from macrohard.planner.inference import InferenceClient


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    tenant: str
    task_id: str
    step: int
    goal: str
    observation: PageObservation
    history: Sequence[PastIntent]
    cause: Envelope | None = None
    car_wait_s: float = 300.0
    output_schema: dict[str, Any] | None = None  # the task's; an `extract` step reads it

    def plan_request(self) -> PlanRequest:
        return PlanRequest(
            goal=self.goal,
            observation=self.observation,
            history=past_steps(self.history),
            output_schema=self.output_schema,
        )


def past_steps(history: Sequence[PastIntent]) -> list[PastStep]:
    return [
        PastStep(intent=p.intent, ok=p.ok is not False, error=p.error, label=p.label)
        for p in history
    ]


class PlannerBackend(Protocol):
    name: str

    async def next_intent(self, request: DecisionRequest) -> Intent: ...

    async def release(self, task_id: str) -> None: ...


class InProcessBackend:
    name = "in-process"

    def __init__(self, embed: Embed | None = None) -> None:
        self._embed = embed

    async def next_intent(self, request: DecisionRequest) -> Intent:
        intent: Intent = decide(request.plan_request(), self._embed)
        return intent

    async def release(self, task_id: str) -> None:
        return None


_intent = msgspec.json.Decoder(Intent)
_enc = msgspec.json.Encoder()


def triton_inputs(request: DecisionRequest) -> dict[str, npt.NDArray[np.object_]]:
    """The planner model's tensors (see planner_model/planner.py): JSON text, batch of 1."""
    plan = request.plan_request()

    def cell(b: bytes) -> npt.NDArray[np.object_]:
        return np.array([[b]], dtype=np.object_)

    return {
        "goal": cell(plan.goal.encode()),
        "page": cell(_enc.encode(plan.observation)),
        "history": cell(_enc.encode(plan.history)),
        "schema": cell(_enc.encode(plan.output_schema) if plan.output_schema else b""),
    }


def read_intent(raw: object) -> Intent:
    """The model's output cell as an Intent; anything unreadable becomes a `fail` intent."""
    try:
        cell = np.asarray(raw).reshape(-1)[0]
        data = cell if isinstance(cell, bytes) else str(cell).encode()
        return _intent.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, IndexError, ValueError) as exc:
        return Intent(action="fail", reason=f"planner model answered something unreadable: {exc}")


class TritonBackend:
    name = "triton"

    def __init__(self, client: InferenceClient) -> None:
        self._client = client

    async def next_intent(self, request: DecisionRequest) -> Intent:
        from macrohard.planner.inference import InferenceFailed

        try:
            result = await self._client.infer(
                tenant_id=request.tenant,
                task_id=request.task_id,
                step=request.step,
                model=PLANNER_MODEL,
                inputs=triton_inputs(request),
                outputs=["intent"],
                cause=request.cause,
                car_wait_s=request.car_wait_s,
            )
        except InferenceFailed as exc:
            return Intent(action="fail", reason=f"no node could run the planner model: {exc}")
        return read_intent(result.outputs["intent"])

    async def release(self, task_id: str) -> None:
        await self._client.release_task(task_id)

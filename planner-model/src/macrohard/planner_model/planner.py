"""The offline planner model as a node binding: goal + page + history (+ the task's output
schema, empty when it has none) in, one intent out.

Text in, text out (Triton BYTES holding JSON) so the planner service needs no shared Python
types with the node beyond the contracts. Grounding uses the node's own MiniLM encoder
in-process (same weights the `minilm` model serves) instead of a second Triton hop per step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageObservation
from macrohard.planner_model import Array, InferFn, ModelBinding, TensorSpec
from macrohard.planner_model.web_planner import PastStep, PlanRequest, decide
from macrohard.planner_model.web_planner.page import Embed

_page = msgspec.json.Decoder(PageObservation)
_history = msgspec.json.Decoder(list[PastStep])
_schema = msgspec.json.Decoder(dict[str, Any] | None)
_intent = msgspec.json.Encoder()


def _text(cell: object) -> bytes:
    return cell if isinstance(cell, bytes) else str(cell).encode()


def decide_one(
    goal: bytes, page: bytes, history: bytes, embed: Embed | None, schema: bytes = b""
) -> bytes:
    """One item of a batch. A request that cannot be read yields a `fail` intent, not a crash."""
    try:
        request = PlanRequest(
            goal=goal.decode(),
            observation=_page.decode(page),
            history=_history.decode(history) if history.strip() else [],
            output_schema=_schema.decode(schema) if schema.strip() else None,
        )
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        return _intent.encode(Intent(action="fail", reason=f"unreadable planner request: {exc}"))
    return _intent.encode(decide(request, embed))


def build_infer(embed: Embed | None) -> InferFn:
    def infer(inputs: Mapping[str, Array]) -> dict[str, Array]:
        goals, pages, hists = inputs["goal"][:, 0], inputs["page"][:, 0], inputs["history"][:, 0]
        schemas = inputs["schema"][:, 0] if "schema" in inputs else [b""] * len(goals)
        out = [
            decide_one(_text(g), _text(p), _text(h), embed, _text(s))
            for g, p, h, s in zip(goals, pages, hists, schemas, strict=True)
        ]
        return {"intent": np.array([[o] for o in out], dtype=np.object_)}

    return infer


def load() -> InferFn:
    from macrohard.planner_model import minilm  # the fleet's numpy MiniLM (no torch)

    return build_infer(minilm.encoder().encode)


BINDING = ModelBinding(
    name="planner",
    inputs=(
        TensorSpec("goal", np.bytes_, (1,)),
        TensorSpec("page", np.bytes_, (1,)),
        TensorSpec("history", np.bytes_, (1,)),
        TensorSpec("schema", np.bytes_, (1,)),
    ),
    outputs=(TensorSpec("intent", np.bytes_, (1,)),),
    load=load,
    max_batch_size=8,
    description="offline web-instruction planner: goal steps grounded with MiniLM",
)

"""The models a car node serves, as small declarative bindings.

A binding is everything Triton needs to serve one model: its name, its input and output
tensors (per item: the batch dimension is implicit) and a factory that loads the weights and
returns the batched infer function. The node agent binds every entry of `BINDING_MODULES`
through PyTriton; nothing is discovered by reflection.

Adding a model = a module that defines `BINDING: ModelBinding`, plus one line below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.generic]
# Called with one array per input, each with the batch as its first dimension, and returns
# one array per output with the same first dimension. Runs on Triton's proxy thread.
InferFn = Callable[[Mapping[str, Array]], dict[str, Array]]


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output of a model, per batch item. `-1` is a dynamic dimension.

    dtype `np.bytes_` is Triton's BYTES (UTF-8 text travels that way).
    """

    name: str
    dtype: type[np.generic]
    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ModelBinding:
    """A model the node serves. `load` runs once, when the node starts its Triton."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    load: Callable[[], InferFn]
    max_batch_size: int = 32
    description: str = ""


# Explicit and ordered: a node registers exactly these model names.
BINDING_MODULES: list[str] = [
    "macrohard.planner_model.minilm",
    "macrohard.planner_model.planner",
]


def load_bindings(modules: list[str] | None = None) -> list[ModelBinding]:
    """The bindings of every listed module (imports only; weights load in `binding.load`)."""
    return [importlib.import_module(m).BINDING for m in (modules or BINDING_MODULES)]


def model_names(modules: list[str] | None = None) -> list[str]:
    return [b.name for b in load_bindings(modules)]

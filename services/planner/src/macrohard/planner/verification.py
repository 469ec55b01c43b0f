"""Verified inference, the pure part: which calls to re-execute, whether answers agree, and
who wins a dispute.

The platform's models are deterministic, so a second car must return the same answer: bit
for bit for text and integer outputs (the planner's intent), within a stated tolerance for
floating-point ones (embeddings: different CPUs round differently in the last bits). A
sample of calls (the registry says how large per car: all of a new car's first calls) is
re-executed on a second car chosen by the registry; a disagreement brings a third, and the
majority decides. This is BOINC's quorum, applied to inference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from macrohard.contracts import tensors
from macrohard.contracts.fleet import WireTensor

FLOAT_TOLERANCE = 1e-4  # max abs difference for FP outputs (MiniLM agrees to ~1e-6)
_FLOATS = frozenset(("FP16", "FP32", "FP64"))


def sampled(share: float, *key: object) -> bool:
    """Whether this call is verified: a deterministic draw from the call's identity, so a
    redelivered step makes the same choice."""
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    digest = hashlib.sha256("|".join(map(str, key)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def agree(a: Sequence[WireTensor], b: Sequence[WireTensor], tol: float = FLOAT_TOLERANCE) -> bool:
    """Same outputs: names, types and shapes equal; values equal, or within `tol` for floats."""
    left = {t.name: t for t in a}
    right = {t.name: t for t in b}
    if left.keys() != right.keys():
        return False
    for name, x in left.items():
        y = right[name]
        if (x.datatype, x.shape) != (y.datatype, y.shape):
            return False
        if x.datatype not in _FLOATS:
            if (x.data, x.items) != (y.data, y.items):
                return False
            continue
        try:
            xa, ya = tensors.from_wire(x), tensors.from_wire(y)
        except tensors.BadTensor:
            return False
        if not np.all(np.isfinite(xa)) or not np.all(np.isfinite(ya)):
            return False
        if xa.size and float(np.max(np.abs(xa.astype(np.float64) - ya.astype(np.float64)))) > tol:
            return False
    return True


def digest(answer: Sequence[WireTensor]) -> str:
    """What a car answered, as a short fingerprint for the log (the answer itself may hold
    page text: it stays out of events)."""
    return hashlib.sha256(tensors.encode(list(answer))).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Verdict:
    majority: tuple[int, ...]  # indexes of the answers that agree with the most others
    wrong: tuple[int, ...]

    @property
    def decided(self) -> bool:
        return len(self.majority) >= 2


def judge(answers: Sequence[Sequence[WireTensor]], tol: float = FLOAT_TOLERANCE) -> Verdict:
    """Group answers by agreement; the largest group of two or more wins, the rest are
    wrong. No group of two (every answer different): undecided, nobody is blamed."""
    best: tuple[int, ...] = ()
    for i in range(len(answers)):
        group = tuple(j for j in range(len(answers)) if agree(answers[i], answers[j], tol))
        if len(group) > len(best):
            best = group
    if len(best) < 2:
        return Verdict((), ())
    return Verdict(best, tuple(i for i in range(len(answers)) if i not in best))

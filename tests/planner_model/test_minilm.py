"""The numpy MiniLM encoder against vectors computed by sentence-transformers itself.

minilm_reference.json was produced once, outside this project's environment, with
sentence-transformers 6.2.0 on torch 2.13.0 (CPU) from the same package's weights; its
`generator` field records that. Keeping torch out of our environment is the point.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from macrohard.planner_model import load_bindings
from macrohard.planner_model.minilm import DIMENSIONS, encoder

REFERENCE = json.loads((Path(__file__).parent / "minilm_reference.json").read_text())


def test_embeddings_match_sentence_transformers() -> None:
    ours = encoder().encode(REFERENCE["sentences"])
    theirs = np.array(REFERENCE["embeddings"], dtype=np.float32)
    assert ours.shape == theirs.shape == (len(REFERENCE["sentences"]), DIMENSIONS)
    assert np.abs(ours - theirs).max() < 2e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_similarities_rank_like_the_published_model() -> None:
    food, bread, baby = encoder().encode(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
        ]
    )
    # The figure sentence-transformers documents for this pair with all-MiniLM-L6-v2.
    assert abs(float(food @ bread) - 0.7553) < 5e-4
    assert float(food @ bread) > float(food @ baby) + 0.5


def test_padding_does_not_change_an_embedding() -> None:
    # Alone vs batched with a much longer sentence: masking must make them identical.
    short = "password"
    alone = encoder().encode([short])[0]
    batched = encoder().encode([short, "a much longer sentence " * 20])[0]
    assert np.abs(alone - batched).max() < 1e-5


def test_minilm_binding_serves_batches_of_text() -> None:
    (binding,) = [b for b in load_bindings() if b.name == "minilm"]
    infer = binding.load()
    out = infer({"text": np.array([[b"hello"], [b"world"]], dtype=np.object_)})
    assert out["embedding"].shape == (2, DIMENSIONS)
    assert out["embedding"].dtype == np.float32

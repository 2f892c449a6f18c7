"""Real embeddings from the shipped all-MiniLM-L6-v2 package: recall by meaning, not by shared words."""

from __future__ import annotations

import numpy as np
import pytest

from agentmem.memory_store import AsyncMemory, Memory, default_embedder
from agentmem.types import MemoryDraft

FACTS = [
    ("concept", "To rotate an ARC grid by 90 degrees, transpose it and reverse each row.", {"env": "arc"}),
    (
        "insight",
        "When a login form fails, check whether the password field needs a click before typing.",
        {"env": "web"},
    ),
    ("episode", "The capital of Australia is Canberra, not Sydney.", {"env": "research"}),
    ("concept", "Flood fill replaces a connected region of one colour with another colour.", {"env": "arc"}),
    (
        "insight",
        "Cite the primary source when a question asks for an exact publication year.",
        {"env": "research"},
    ),
    ("episode", "Scrolling down the product page revealed the hidden checkout button.", {"env": "web"}),
]
QUERIES = [
    ("How do I turn a matrix a quarter turn?", 0),
    ("which city is the seat of government down under", 2),
    ("paint bucket tool fills an area", 3),
    ("I could not find the buy button on the shop site", 5),
]


@pytest.fixture(scope="module")
def embedder():
    return default_embedder()


def test_default_embedder_is_offline_minilm(embedder):
    vecs = embedder.embed(["hello world", "a completely different sentence"])
    assert embedder.name == "all-MiniLM-L6-v2" and embedder.dim == 384
    assert vecs.shape == (2, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert default_embedder() is embedder  # one model per process


def test_semantic_recall_with_explanations(sqlite_backend, embedder):
    with Memory("sem", embedder=embedder, **sqlite_backend) as mem:
        added = mem.add_many([MemoryDraft(kind=k, text=t, payload=p) for k, t, p in FACTS])
        for query, want in QUERIES:
            hits = mem.search(query, k=3)
            assert hits[0].item.id == added[want].id, (query, [h.item.text for h in hits])
            assert hits[0].parts.similarity > hits[1].parts.similarity
        arc = mem.search("rotate a grid", k=5, filters={"env": "arc"})
        assert {h.item.id for h in arc} == {added[0].id, added[3].id}
        relevant = mem.search("How do I turn a matrix a quarter turn?", k=6, min_score=0.3)
        assert [h.item.id for h in relevant] == [added[0].id]  # the unrelated five fall below the bar


async def test_async_paraphrase_dedup(sqlite_backend, embedder):
    mem = AsyncMemory("dedup", embedder=embedder, **sqlite_backend)
    try:
        a = await mem.add(
            "Always verify the program on every training pair before submitting.", kind="insight"
        )
        b = await mem.add(
            "Always verify the program on all training pairs before you submit.", kind="insight"
        )
        await mem.add("Wait for the page to finish loading before clicking.", kind="insight")
        report = await mem.consolidate(threshold=0.9)
        assert report.merged == 1 and {report.groups[0].survivor, *report.groups[0].merged} == {a.id, b.id}
        assert await mem.count() == 2
    finally:
        await mem.aclose()

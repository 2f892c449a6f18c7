"""The public API on both real backends: CRUD, search with explanations, usage, namespaces."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from agentmem.errors import InvalidItemError, ItemNotFoundError
from agentmem.memory_store import AsyncMemory, Memory
from agentmem.types import MemoryDraft

DOCS = [
    ("episode", "the cat sat on the mat", {"env": "arc", "success": True}),
    ("concept", "dogs chase cats in the park", {"env": "web", "success": False}),
    ("insight", "quantum physics lecture notes about entanglement", {"env": "web", "success": True}),
    ("episode", "rotate the grid clockwise then mirror it", {"env": "arc", "success": False}),
]


async def test_async_crud_search_usage(backend, hash_embedder):
    mem = AsyncMemory("alpha", embedder=hash_embedder, **backend)
    try:
        added = await mem.add_many([MemoryDraft(kind=k, text=t, payload=p) for k, t, p in DOCS])
        assert [a.text for a in added] == [d[1] for d in DOCS]
        assert await mem.count() == 4
        assert await mem.count(kinds=["episode"]) == 2

        hits = await mem.search("the cat on the mat", k=2)
        assert hits[0].item.id == added[0].id
        assert hits[0].parts.similarity > hits[1].parts.similarity
        for hit in hits:  # every hit explains itself
            p = hit.parts
            assert hit.score == pytest.approx(p.final)
            assert p.final == pytest.approx(0.8 * p.similarity + 0.1 * p.recency + 0.1 * p.utility)
            assert 0.0 < p.recency <= 1.0

        web = await mem.search("cats", k=5, filters={"env": "web", "success": True})
        assert [h.item.id for h in web] == [added[2].id]
        arc_eps = await mem.search("grid", k=5, kinds=["episode"], filters={"env": "arc"})
        assert {h.item.id for h in arc_eps} == {added[0].id, added[3].id}

        got = await mem.get(added[1].id)
        assert got.payload == {"env": "web", "success": False}
        upd = await mem.update(added[1].id, text="wolves hunt deer in the forest", payload={"env": "wild"})
        assert upd.text.startswith("wolves") and upd.payload == {"env": "wild"}
        top = await mem.search("wolves hunting deer", k=1)
        assert top[0].item.id == added[1].id
        events = [h["event"] for h in await mem.history(added[1].id)]
        assert events == ["add", "update"]

        await mem.record_usage([added[0].id, added[3].id], episode_id="ep-1", reward=1.0, task_id="t1")
        await mem.record_usage([added[0].id], episode_id="ep-2", reward=0.0)
        used = await mem.get(added[0].id)
        assert (used.uses, used.reward_sum, used.reward_count) == (2, 1.0, 2)
        assert used.last_used_at is not None
        events = await mem.usage_events()
        assert [(e.item_id, e.episode_id, e.rank, e.reward) for e in events] == [
            (added[0].id, "ep-1", 0, 1.0),
            (added[3].id, "ep-1", 1, 1.0),
            (added[0].id, "ep-2", 0, 0.0),
        ]
        assert events[0].task_id == "t1"
        assert len(await mem.usage_events(limit=1)) == 1

        vecs = await mem.vectors([added[0].id])
        assert vecs[added[0].id].shape == (64,)
        emb = await mem.embed(["the cat sat on the mat"])
        assert np.allclose(emb[0], vecs[added[0].id], atol=1e-6)
        assert np.allclose(np.linalg.norm(emb, axis=1), 1.0)

        await mem.delete(added[0].id)
        with pytest.raises(ItemNotFoundError):
            await mem.get(added[0].id)
        with pytest.raises(ItemNotFoundError):
            await mem.delete(added[0].id)
        assert added[0].id not in {h.item.id for h in await mem.search("cat mat", k=10)}
        assert await mem.count() == 3
        assert [h["event"] for h in await mem.history(added[0].id)] == ["add", "delete"]
    finally:
        await mem.aclose()


def test_sync_facade_and_namespaces(backend, hash_embedder):
    with Memory("tenant-a", embedder=hash_embedder, **backend) as a:
        b = a.with_namespace("tenant-b")
        ia = a.add("shared secret recipe for soup", kind="insight")
        ib = b.add("shared secret recipe for soup", kind="insight")
        assert ia.namespace == "tenant-a" and ib.namespace == "tenant-b"
        assert [h.item.id for h in a.search("secret soup recipe", k=10)] == [ia.id]
        assert [h.item.id for h in b.search("secret soup recipe", k=10)] == [ib.id]
        with pytest.raises(ItemNotFoundError):
            a.get(ib.id)
        with pytest.raises(ItemNotFoundError):
            a.delete(ib.id)
        with pytest.raises(ItemNotFoundError):
            a.record_usage([ib.id], "ep", 1.0)
        assert a.count() == 1 and b.count() == 1
        assert a.stats().items == 1
        b.close()


def test_min_score_mmr_and_utility(sqlite_backend, hash_embedder):
    with Memory("rank", embedder=hash_embedder, **sqlite_backend) as mem:
        a = mem.add("sort the list of numbers ascending", kind="concept")
        b = mem.add("sort the list of numbers ascending quickly", kind="concept")
        c = mem.add("sort numbers ascending with a heap", kind="concept")
        mem.add("paint the fence green", kind="concept")
        # utility: the Bayesian mean moves with rewards, but a single reward cannot dominate
        mem.record_usage([c.id], "e1", 1.0)
        parts = {h.item.id: h.parts for h in mem.search("sort numbers ascending", k=4)}
        assert parts[c.id].utility == pytest.approx((1.0 + 0.5 * 2) / (1 + 2))
        assert parts[a.id].utility == pytest.approx(0.5)
        # threshold: nothing unrelated passes a high bar, and the bar is on the final score
        strict = mem.search("sort numbers ascending", k=4, min_score=0.7)
        assert strict and all(h.score >= 0.7 for h in strict)
        assert "paint the fence green" not in {h.item.text for h in strict}
        # MMR: the near-duplicate of the first pick is pushed down
        plain = [h.item.id for h in mem.search("sort the list of numbers ascending", k=3)]
        diverse = mem.search("sort the list of numbers ascending", k=3, mmr_lambda=0.3)
        assert plain[:2] == [a.id, b.id]
        assert diverse[0].item.id == a.id and diverse[1].item.id != b.id
        assert any(h.parts.mmr_penalty > 0 for h in diverse[1:])


def test_explicit_ids_and_duplicates(sqlite_backend, hash_embedder):
    with Memory("ids", embedder=hash_embedder, **sqlite_backend) as mem:
        item = mem.add("first", kind="episode", id="fixed-1")
        assert mem.get("fixed-1").text == "first" and item.id == "fixed-1"
        with pytest.raises(InvalidItemError):
            mem.add("again", kind="episode", id="fixed-1")
        assert mem.get("fixed-1").text == "first"


def test_public_exports_are_lazy():
    # A subprocess: under pytest's rootdir import mode tests/agentmem/ can shadow the package name.
    code = (
        "import sys, agentmem, agentmem.memory_store as ms\n"
        "heavy = {'torch', 'faiss', 'sqlalchemy', 'sentence_transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert agentmem.Memory is ms.Memory and agentmem.AsyncMemory is ms.AsyncMemory\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr

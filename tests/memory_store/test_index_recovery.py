"""The FAISS index is derived: deleted, corrupted, truncated or stale files are rebuilt from SQL."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from agentmem.memory_store import HashEmbedder, Memory
from agentmem.types import MemoryDraft

QUERIES = ["alpha beta", "gamma item 7", "delta epsilon 3", "item 42 zeta"]


def _fill(mem: Memory, n: int, start: int = 0) -> None:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    mem.add_many(
        [
            MemoryDraft(
                kind="episode", text=f"{words[i % 8]} {words[(i * 3) % 8]} item {i}", payload={"i": i}
            )
            for i in range(start, start + n)
        ]
    )


def _answers(mem: Memory) -> list:
    """Top-5 similarities and the full (id, similarity) set per query (ties may swap equal ids)."""
    out = []
    for q in QUERIES:
        top = [round(h.parts.similarity, 5) for h in mem.search(q, k=5)]
        every = {(h.item.id, round(h.parts.similarity, 5)) for h in mem.search(q, k=600)}
        out.append((top, every))
    return out


def _index_file(mem: Memory):
    files = list(mem.store.index_dir.glob("*.npz"))
    assert len(files) == 1
    return files[0]


@pytest.mark.parametrize("damage", ["delete", "garbage", "truncate", "stale", "foreign"])
def test_damaged_index_is_rebuilt(sqlite_backend, tmp_path, damage):
    emb = HashEmbedder(64)
    with Memory("idx", embedder=emb, **sqlite_backend) as mem:
        _fill(mem, 300)
        mem.flush()
        path = _index_file(mem)
        if damage == "stale":
            shutil.copy(path, tmp_path / "old.npz")
        _fill(mem, 200, start=300)
        mem.delete(mem.search("alpha", k=1)[0].item.id)
        mem.flush()
        expected = _answers(mem)
        fresh_seqs = mem.store._state("idx").index.seqs()
    if damage == "delete":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(b"\x00not an index" * 100)
    elif damage == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "stale":
        shutil.copy(tmp_path / "old.npz", path)  # 200 items and a deletion behind SQL
    elif damage == "foreign":  # an index of another database with the same file name
        other_url = f"sqlite:///{tmp_path / 'other.db'}"
        with Memory("idx", url=other_url, embedder=emb, index_dir=path.parent) as other:
            _fill(other, 50)
            other.flush()
    with Memory("idx", embedder=emb, **sqlite_backend) as mem:
        assert _answers(mem) == expected
        assert mem.store._state("idx").index.seqs() == fresh_seqs
        assert mem.stats().index.live == 499


def test_other_process_writes_are_seen_by_search(sqlite_backend):
    """Two stores on one file (as two processes would be): a search catches up from SQL's watermark."""
    emb_a, emb_b = HashEmbedder(64), HashEmbedder(64)
    with (
        Memory("ns", embedder=emb_a, **sqlite_backend) as a,
        Memory("ns", embedder=emb_b, **sqlite_backend) as b,
    ):
        assert a.store is not b.store
        _fill(a, 20)
        assert len(b.search("alpha", k=50)) == 20
        new = a.add("omega unique words here", kind="insight")
        assert b.search("omega unique words here", k=1)[0].item.id == new.id
        a.delete(new.id)
        assert new.id not in {h.item.id for h in b.search("omega unique words here", k=50)}
        a.update(b.search("alpha", k=1)[0].item.id, text="completely different sigma")
        assert b.search("completely different sigma", k=1)[0].item.text == "completely different sigma"


def test_hnsw_past_threshold_and_compaction(sqlite_backend):
    emb = HashEmbedder(32)
    with Memory("big", embedder=emb, hnsw_threshold=500, **sqlite_backend) as mem:
        rng = np.random.default_rng(0)
        base = rng.normal(size=(40, 32)).astype(np.float32)
        vecs = base[rng.integers(0, 40, 1200)] + 0.05 * rng.normal(size=(1200, 32)).astype(np.float32)
        drafts = [MemoryDraft(kind="concept", text=f"v{i}") for i in range(1200)]
        added = mem.add_many(drafts, vectors=vecs)
        info = mem.stats().index
        assert info.kind == "hnsw" and info.live == 1200
        hits = mem.search("ignored", vector=vecs[7], k=1)
        assert hits[0].item.id == added[7].id
        for item in added[:300]:
            mem.delete(item.id)
        assert mem.stats().index.live == 900
        assert all(
            h.item.id not in {a.id for a in added[:300]} for h in mem.search("x", vector=vecs[5], k=20)
        )

"""Property: random items across namespaces, random queries -> zero cross-namespace hits."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentmem.memory_store import HashEmbedder, Memory
from agentmem.types import MemoryDraft

WORDS = ["grid", "rotate", "colour", "click", "button", "search", "paper", "fact", "loop", "memory"]
text_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
kind_st = st.sampled_from(["episode", "concept", "insight"])
NAMESPACES = ["a", "b", "a.b", "A", "tenant/1"]  # look-alike names must not leak either


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    entries=st.lists(st.tuples(st.sampled_from(NAMESPACES), kind_st, text_st), min_size=1, max_size=25),
    queries=st.lists(
        st.tuples(st.sampled_from(NAMESPACES), text_st, st.integers(1, 30)), min_size=1, max_size=5
    ),
    use_filter=st.booleans(),
)
def run_isolation(url_kwargs, entries, queries, use_filter):
    run = uuid.uuid4().hex[:6]  # fresh namespaces per example, same database
    base = Memory(f"{run}:{NAMESPACES[0]}", embedder=HashEmbedder(32), **url_kwargs)
    try:
        mems = {ns: base.with_namespace(f"{run}:{ns}") for ns in NAMESPACES}
        owner: dict[str, str] = {}
        for ns in NAMESPACES:
            mine = [MemoryDraft(kind=k, text=t, payload={"ns": ns}) for n, k, t in entries if n == ns]
            for item in mems[ns].add_many(mine):
                owner[item.id] = ns
        for ns, query, k in queries:
            filters = {"ns": ns} if use_filter else None
            hits = mems[ns].search(query, k=k, filters=filters)
            assert all(owner[h.item.id] == ns and h.item.namespace == f"{run}:{ns}" for h in hits)
            expected = sum(1 for n, _, _ in entries if n == ns)
            assert len(hits) == min(k, expected)  # never silently empty, never padded by others
            assert mems[ns].count() == expected
        for m in mems.values():
            m.close()
    finally:
        base.close()


def test_no_cross_namespace_hits_sqlite(tmp_path):
    run_isolation({"url": f"sqlite:///{tmp_path / 'iso.db'}"})


def test_no_cross_namespace_hits_postgres(pg_backend):
    run_isolation(pg_backend)

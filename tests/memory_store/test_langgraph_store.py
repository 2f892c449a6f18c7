"""The LangGraph BaseStore adapter: same answers as LangGraph's InMemoryStore, semantic search, a real graph."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore, InvalidNamespaceError
from langgraph.store.memory import InMemoryStore

from agentmem.memory_store import AgentMemStore, HashEmbedder, Memory, default_embedder

DOCS = {
    ("users", "u1", "prefs"): {"food": {"text": "likes spicy ramen", "score": 5, "tags": ["a", "b"]}},
    ("users", "u1", "facts"): {"job": {"text": "works as a nurse", "score": 3}},
    ("users", "u2", "prefs"): {"food": {"text": "vegetarian, loves salads", "score": 4}},
    ("docs", "v1"): {
        "readme": {"text": "how to install", "score": 1},
        "faq": {"text": "common questions", "score": 2},
    },
    ("usersx",): {"k": {"text": "look-alike namespace", "score": 9}},
}


def _fill(store: BaseStore) -> None:
    for ns, items in DOCS.items():
        for key, value in items.items():
            store.put(ns, key, value)
    store.put(("users", "u1", "prefs"), "drink", {"text": "green tea", "score": 2}, index=False)
    store.put(("docs", "v1"), "faq", {"text": "frequently asked questions", "score": 7})  # overwrite
    store.put(("docs", "v1"), "readme", None)  # delete


def _norm(results):
    return sorted((tuple(r.namespace), r.key, repr(sorted(r.value.items()))) for r in results)


@pytest.fixture
def pair(backend):
    ours = AgentMemStore(url=backend["url"], schema=backend.get("schema"), embedder=HashEmbedder(64))
    ref = InMemoryStore()
    _fill(ours)
    _fill(ref)
    yield ours, ref
    ours.close()


def test_same_answers_as_inmemorystore(pair):
    ours, ref = pair
    for ns, key in [
        (("users", "u1", "prefs"), "food"),
        (("docs", "v1"), "faq"),
        (("docs", "v1"), "readme"),
        (("users", "u1", "prefs"), "drink"),
    ]:
        a, b = ours.get(ns, key), ref.get(ns, key)
        assert (a is None) == (b is None)
        if a is not None:
            assert (a.namespace, a.key, a.value) == (b.namespace, b.key, b.value)
            assert a.created_at <= a.updated_at
    assert ours.get(("nope",), "x") is None  # (InMemoryStore's defaultdict would list ("nope",) after this)
    searches = [
        dict(namespace_prefix=("users",), limit=50),
        dict(namespace_prefix=("users", "u1"), limit=50),
        dict(namespace_prefix=(), limit=50),
        dict(namespace_prefix=("users",), filter={"score": {"$gte": 4}}, limit=50),
        dict(namespace_prefix=("users",), filter={"tags": ["a", "b"]}, limit=50),
        dict(namespace_prefix=("users",), filter={"score": {"$ne": 5}, "text": "works as a nurse"}, limit=50),
        dict(namespace_prefix=("docs",), filter={"score": 7}, limit=50),
    ]
    for kwargs in searches:
        prefix = kwargs["namespace_prefix"]
        rest = {k: v for k, v in kwargs.items() if k != "namespace_prefix"}
        assert _norm(ours.search(prefix, **rest)) == _norm(ref.search(prefix, **rest)), kwargs
    assert len(ours.search(("users",), limit=2)) == 2
    assert len(ours.search(("users",), limit=2, offset=3)) == 1
    for kwargs in [
        {},
        {"prefix": ("users",)},
        {"suffix": ("prefs",)},
        {"prefix": ("users", "*", "prefs")},
        {"max_depth": 1},
        {"max_depth": 2, "prefix": ("users",)},
        {"limit": 2, "offset": 1},
    ]:
        assert ours.list_namespaces(**kwargs) == ref.list_namespaces(**kwargs), kwargs


def test_namespace_rules_and_isolation(pair, backend):
    ours, _ = pair
    with pytest.raises(InvalidNamespaceError):
        ours.put(("bad.label",), "k", {"text": "x"})
    with pytest.raises(InvalidNamespaceError):
        ours.put((), "k", {"text": "x"})
    # the adapter's items live under its root: a plain Memory namespace never sees them, nor vice versa
    with Memory("users", embedder=HashEmbedder(64), **backend) as plain:
        plain.add("likes spicy ramen", kind="concept")
        assert ("users",) not in ours.list_namespaces()
        assert all(
            h.item.payload.get("text") != "likes spicy ramen" or h.item.namespace == "users"
            for h in plain.search("spicy ramen", k=10)
        )
        assert len(plain.search("spicy ramen", k=10)) == 1


def test_semantic_search_with_real_embedder(sqlite_backend):
    store = AgentMemStore(url=sqlite_backend["url"], embedder=default_embedder(), fields=["text"])
    try:
        store.put(("mem", "u1"), "a", {"text": "The user is allergic to peanuts", "kind": "health"})
        store.put(("mem", "u1"), "b", {"text": "The user's favourite colour is teal", "kind": "pref"})
        store.put(("mem", "u2"), "c", {"text": "Peanut butter sandwiches are great", "kind": "pref"})
        store.put(("mem", "u1"), "d", {"text": "not indexed note about nuts", "kind": "health"}, index=False)
        hits = store.search(("mem", "u1"), query="what food must this person avoid?", limit=2)
        assert [h.key for h in hits] == ["a", "b"] and hits[0].score > hits[1].score
        hits = store.search(("mem",), query="what food must this person avoid?", limit=3)
        assert hits[0].key == "a" and {h.key for h in hits} == {"a", "b", "c"}
        filtered = store.search(("mem",), query="nuts", filter={"kind": "health"}, limit=5)
        assert [h.key for h in filtered] == ["a", "d"] and filtered[1].score is None
    finally:
        store.close()


class State(TypedDict):
    user: str
    question: str
    notes: Annotated[list[str], operator.add]


def remember(state: State, *, store: BaseStore) -> dict:
    store.put(("notes", state["user"]), "n1", {"text": f"{state['user']} asked about {state['question']}"})
    return {"notes": ["stored"]}


def recall(state: State, *, store: BaseStore) -> dict:
    found = store.search(("notes", state["user"]), query=state["question"], limit=3)
    return {"notes": [item.value["text"] for item in found]}


async def test_graph_compile_with_store(sqlite_backend):
    store = AgentMemStore(url=sqlite_backend["url"], embedder=HashEmbedder(64))
    try:
        builder = StateGraph(State)
        builder.add_node("remember", remember)
        builder.add_node("recall", recall)
        builder.add_edge(START, "remember")
        builder.add_edge("remember", "recall")
        builder.add_edge("recall", END)
        graph = builder.compile(store=store)
        out = graph.invoke({"user": "ann", "question": "tides", "notes": []})
        assert out["notes"] == ["stored", "ann asked about tides"]
        out = await graph.ainvoke({"user": "bob", "question": "moons", "notes": []})
        assert out["notes"] == ["stored", "bob asked about moons"]  # ann's note is not bob's
        assert store.list_namespaces(prefix=("notes",)) == [("notes", "ann"), ("notes", "bob")]
        assert (await store.aget(("notes", "ann"), "n1")).value["text"] == "ann asked about tides"
    finally:
        store.close()

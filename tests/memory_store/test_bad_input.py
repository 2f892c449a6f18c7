"""Bad input is a typed error and writes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from agentmem.errors import (
    EmbedderMismatchError,
    InvalidItemError,
    InvalidStoreURLError,
    ItemNotFoundError,
    MemoryStoreError,
)
from agentmem.memory_store import AsyncMemory, HashEmbedder, Memory
from agentmem.memory_store.core import MAX_TEXT_CHARS
from agentmem.types import MemoryDraft


@pytest.fixture
def mem(sqlite_backend):
    m = Memory("bad", embedder=HashEmbedder(16), **sqlite_backend)
    yield m
    m.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.add(""),
        lambda m: m.add("   \n"),
        lambda m: m.add(None),
        lambda m: m.add("ok", kind="memo"),
        lambda m: m.add("ok", payload={"x": object()}),
        lambda m: m.add("ok", payload={"x": float("nan")}),
        lambda m: m.add("ok", payload=["not", "a", "dict"]),
        lambda m: m.add("ok", vector=np.ones(15)),
        lambda m: m.add("ok", vector=np.full(16, np.nan)),
        lambda m: m.add("ok", vector=np.zeros(16)),
        lambda m: m.add_many(
            [MemoryDraft(kind="episode", text="good"), MemoryDraft(kind="episode", text="")]
        ),
        lambda m: m.add_many(
            [MemoryDraft(kind="episode", text="a"), MemoryDraft(kind="insight", text="b")],
            vectors=np.ones((3, 16)),
        ),
        lambda m: m.add_many("not a list"),
        lambda m: m.add_many([{"kind": "gossip", "text": "x"}]),
        lambda m: m.search(""),
        lambda m: m.search("q", k=0),
        lambda m: m.search("q", kinds=["gossip"]),
        lambda m: m.search("q", filters=["env"]),
        lambda m: m.search("q", mmr_lambda=2.0),
        lambda m: m.search("q", vector=np.ones(3)),
        lambda m: m.record_usage(["x"], "", 1.0),
        lambda m: m.record_usage(["x"], "ep", float("inf")),
        lambda m: m.update("x"),
        lambda m: m.embed("not a list"),
        lambda m: m.usage_events(limit=0),
        lambda m: m.consolidate(threshold=1.5),
        lambda m: m.consolidate(budget=-1),
    ],
)
def test_invalid_input_raises_and_writes_nothing(mem, call):
    mem.add("the one good item", kind="concept")
    with pytest.raises(InvalidItemError):
        call(mem)
    assert mem.count() == 1
    assert mem.stats().index.live == 1


def test_unknown_ids_are_typed_errors(mem):
    item = mem.add("present", kind="concept")
    for call in (
        lambda: mem.get("nope"),
        lambda: mem.update("nope", text="x"),
        lambda: mem.delete("nope"),
        lambda: mem.history("nope"),
        lambda: mem.record_usage([item.id, "nope"], "ep", 1.0),
        lambda: mem.vectors(["nope"]),
    ):
        with pytest.raises(ItemNotFoundError):
            call()
    assert mem.get(item.id).uses == 0 and mem.usage_events() == []


def test_huge_text_is_truncated_with_a_flag(mem):
    item = mem.add("word " * (MAX_TEXT_CHARS // 2), kind="episode")
    assert item.truncated and len(item.text) == MAX_TEXT_CHARS
    assert mem.get(item.id).truncated
    assert not mem.add("short", kind="episode").truncated


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "mysql://u@h/db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+asyncpg://h/db",
        "oracle://x",
    ],
)
def test_invalid_urls(url):
    with pytest.raises(InvalidStoreURLError):
        Memory("x", url=url, embedder=HashEmbedder(8))


def test_unreachable_server_is_a_typed_error():
    mem = AsyncMemory("x", url="postgresql+psycopg://postgres@127.0.0.1:1/none", embedder=HashEmbedder(8))
    with pytest.raises(MemoryStoreError, match="cannot connect"):
        mem.store.count("x")


def test_embedder_mismatch_then_reembed(sqlite_backend):
    with Memory("mix", embedder=HashEmbedder(16), **sqlite_backend) as old:
        a = old.add("rotate the grid", kind="concept")
        old.add("flip colours", kind="concept")
    with Memory("mix", embedder=HashEmbedder(32), **sqlite_backend) as new:
        for call in (lambda: new.search("grid"), lambda: new.add("more", kind="concept")):
            with pytest.raises(EmbedderMismatchError, match="reembed"):
                call()
        assert new.count() == 2  # reads that need no vectors still work
        assert new.reembed() == 2
        assert new.search("rotate the grid", k=1)[0].item.id == a.id
        assert new.stats().dim == 32
        assert new.vectors([a.id])[a.id].shape == (32,)

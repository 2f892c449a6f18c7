"""Consolidation (merge with provenance, budget pruning, idempotent), JSONL export/import, migrations."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import create_engine, inspect, text

from agentmem.errors import InvalidItemError
from agentmem.memory_store import HashEmbedder, Memory
from agentmem.types import MemoryDraft


def test_merge_near_duplicates_keeps_provenance(backend):
    with Memory("cons", embedder=HashEmbedder(64), **backend) as mem:
        a = mem.add("rotate the grid ninety degrees clockwise", kind="concept")
        b = mem.add("rotate the grid ninety degrees clockwise", kind="concept")
        c = mem.add("Rotate the grid ninety degrees, clockwise!", kind="concept")
        same_text_other_kind = mem.add("rotate the grid ninety degrees clockwise", kind="episode")
        other = mem.add("count the red cells in each row", kind="concept")
        mem.record_usage([b.id], "ep1", 1.0)
        mem.record_usage([b.id, c.id], "ep2", 0.5)

        dry = mem.consolidate(threshold=0.95, dry_run=True)
        assert dry.merged == 2 and mem.count() == 5
        report = mem.consolidate(threshold=0.95)
        assert report.merged == 2 and report.items_after == 3
        group = report.groups[0]
        assert group.survivor == b.id  # the most used one survives
        assert set(group.merged) == {a.id, c.id}
        survivor = mem.get(b.id)
        assert sorted(survivor.payload["merged_from"]) == sorted([a.id, c.id])
        assert (survivor.uses, survivor.reward_sum) == (3, 2.0)  # usage stats were absorbed
        assert {h.item.id for h in mem.search("rotate grid", k=10)} == {
            b.id,
            same_text_other_kind.id,
            other.id,
        }
        assert mem.history(a.id)[-1]["detail"] == {"merged_into": b.id}
        # a merged-away id still credits its survivor
        mem.record_usage([a.id], "ep3", 1.0)
        assert mem.get(b.id).uses == 4
        again = mem.consolidate(threshold=0.95)  # idempotent
        assert again.merged == 0 and again.pruned == 0 and mem.count() == 3


def test_budget_pruning_keeps_useful_items(sqlite_backend):
    with Memory("prune", embedder=HashEmbedder(64), **sqlite_backend) as mem:
        added = mem.add_many(
            [MemoryDraft(kind="episode", text=f"distinct memory number {i} w{i}") for i in range(10)]
        )
        useful = [added[2].id, added[5].id, added[7].id]
        mem.record_usage(useful, "ep", 1.0)
        mem.record_usage([added[0].id], "ep-bad", 0.0)
        report = mem.consolidate(threshold=0.999, budget=4)
        assert report.pruned == 6 and mem.count() == 4
        kept = {it.id for it in mem.list()}
        assert set(useful) <= kept and added[0].id not in kept
        assert mem.consolidate(threshold=0.999, budget=4).pruned == 0


def test_consolidation_while_others_read(sqlite_backend):
    emb = HashEmbedder(256)
    with Memory("live", embedder=emb, **sqlite_backend) as mem:
        texts = [f"duplicate idea alpha{i % 20} beta{i % 20} gamma{i % 20}" for i in range(200)]
        mem.add_many([MemoryDraft(kind="concept", text=t) for t in texts])
        errors: list[BaseException] = []
        stop = threading.Event()

        def reader() -> None:
            reader_mem = Memory("live", embedder=HashEmbedder(256), **sqlite_backend)
            try:
                while not stop.is_set():
                    hits = reader_mem.search("duplicate idea alpha3 beta3 gamma3", k=5)
                    assert hits and all("duplicate idea" in h.item.text for h in hits)
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                reader_mem.close()

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        report = mem.consolidate(threshold=0.99)
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors
        assert report.merged == 180 and mem.count() == 20


def test_export_import_roundtrip(backend, tmp_path):
    path = tmp_path / "dump.jsonl"
    with Memory("src", embedder=HashEmbedder(64), **backend) as src:
        items = src.add_many(
            [MemoryDraft(kind="insight", text=f"lesson {i} about loops", payload={"i": i}) for i in range(30)]
        )
        src.record_usage([items[0].id], "ep", 1.0)
        src.delete(items[1].id)
        assert src.export(path).items == 29
        dst = src.with_namespace("dst")
        report = dst.import_(path)
        assert report.items == 29 and report.reembedded == 0
        assert dst.count() == 29 and dst.get(items[0].id).uses == 1
        assert dst.search("lesson 5 about loops", k=1)[0].item.payload == {"i": 5}
        assert dst.import_(path).items == 29 and dst.count() == 29  # idempotent
        with Memory("other-emb", embedder=HashEmbedder(32), **backend) as other:
            assert other.import_(path).reembedded == 29
            assert other.search("lesson 7 about loops", k=1)[0].item.id == items[7].id
        bad = tmp_path / "bad.jsonl"
        lines = path.read_text().splitlines()
        bad.write_text(
            lines[0] + "\n" + json.dumps({"format": "agentmem.memory/1", "item": {"kind": "x"}}) + "\n"
        )
        fresh = src.with_namespace("fresh")
        with pytest.raises(InvalidItemError, match=r"bad\.jsonl:2"):
            fresh.import_(bad)
        assert fresh.count() == 0
        dst.close()
        fresh.close()


def test_alembic_schema_and_version(sqlite_backend):
    with Memory("m", embedder=HashEmbedder(8), **sqlite_backend) as mem:
        mem.add("x", kind="episode")
    engine = create_engine(sqlite_backend["url"])
    try:
        names = set(inspect(engine).get_table_names())
        assert {"memory_items", "memory_usage_events", "memory_history", "memory_namespaces"} <= names
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM memory_alembic_version")).scalar()
            mode = conn.execute(text("PRAGMA journal_mode")).scalar()
        assert version == "0001_initial" and mode == "wal"
    finally:
        engine.dispose()

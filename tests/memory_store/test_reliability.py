"""Crash safety and concurrency with real processes, real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agentmem.memory_store import HashEmbedder, Memory
from agentmem.memory_store.schema import items

WRITER = Path(__file__).with_name("writer_proc.py")


def _spawn(url: str, schema: str | None, ns: str, prefix: str, n: int, batch: int, log: Path, search_every=0):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, str(WRITER), url, schema or "-", ns, prefix, str(n), str(batch), str(log)]
    if search_every:
        args.append(str(search_every))
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _logged_batches(log: Path) -> list[list[str]]:
    lines = log.read_text().splitlines()
    # A SIGKILL can cut the very last line short: only complete (newline-terminated) lines count.
    if lines and not log.read_text().endswith("\n"):
        lines = lines[:-1]
    return [line.split() for line in lines if line]


def _index_matches_sql(mem: Memory) -> None:
    store = mem.store
    store.flush(mem.namespace)
    index = store._state(mem.namespace).index
    with store.engine.connect() as conn:
        live = {
            r.seq
            for r in conn.execute(
                select(items.c.seq).where(items.c.namespace == mem.namespace, items.c.deleted.is_(False))
            )
        }
    assert index is not None and index.seqs() == live


@pytest.mark.slow
def test_sigkill_mid_writes_loses_nothing_committed(sqlite_backend, tmp_path):
    log = tmp_path / "committed.log"
    proc = _spawn(sqlite_backend["url"], None, "crash", "w", 50_000, 0, log, search_every=40)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 1200:
            break
        if proc.poll() is not None:
            pytest.fail(f"writer exited early: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    batches = _logged_batches(log)
    committed = [i for b in batches for i in b]
    assert len(committed) >= 1200
    with Memory("crash", embedder=HashEmbedder(64), **sqlite_backend) as mem:
        # every committed item is there, fully formed
        found = {it.id: it for it in mem.get_many(committed)}
        assert set(found) == set(committed)
        vecs = mem.vectors(committed[:200])
        assert all(v.shape == (64,) for v in vecs.values())
        # nothing half-written: every batch in SQL is complete (all or none of its ids)
        all_ids = {it.id for it in mem.list()}
        by_batch: dict[str, set[str]] = {}
        for item_id in all_ids:
            _, b, _ = item_id.split("-")
            by_batch.setdefault(b, set()).add(item_id)
        for b, ids in by_batch.items():
            size = (int(b) % 7) + 1
            assert ids == {f"w-{b}-{j}" for j in range(size)}, f"batch {b} is partial"
        # at most the one in-flight batch committed without its log line
        assert len(all_ids) - len(committed) <= 7
        # the index (possibly saved mid-run, possibly stale) matches SQL after reopening
        _index_matches_sql(mem)
        top = mem.search(found[committed[-1]].text, k=1)
        assert top and top[0].item.id in all_ids


def _concurrent_writers(backend: dict, tmp_path: Path) -> None:
    procs, logs = [], []
    for w in range(4):
        log = tmp_path / f"w{w}.log"
        logs.append(log)
        procs.append(_spawn(backend["url"], backend.get("schema"), "shared", f"p{w}", 2500, 25, log))
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with Memory("shared", embedder=HashEmbedder(64), **backend) as mem:
        assert mem.count() == 10_000
        expected = [i for log in logs for b in _logged_batches(log) for i in b]
        assert len(expected) == 10_000
        assert len(mem.get_many(expected)) == 10_000
        with mem.store.engine.connect() as conn:  # one rev per change: writers were serialised
            n_revs = conn.execute(
                select(func.count(func.distinct(items.c.rev))).where(items.c.namespace == "shared")
            ).scalar()
        assert n_revs == 10_000
        _index_matches_sql(mem)
        assert mem.stats().index.live == 10_000


@pytest.mark.slow
def test_four_writers_sqlite(sqlite_backend, tmp_path):
    _concurrent_writers(sqlite_backend, tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_four_writers_postgres(pg_backend, tmp_path):
    _concurrent_writers(pg_backend, tmp_path)

"""Keeping each namespace's FAISS index in step with SQL, and its file on disk.

SQL is the truth and every index is derived from it: an index carries the watermark (highest `rev`)
it has applied, catches up on the rows changed since, is rebuilt from SQL when its file is missing,
stale or corrupt, and is saved now and then so a new process starts warm. That bookkeeping is
separate from what the store does with an index (writes, search), so it lives here as a mixin that
`Store` inherits; the attributes and methods it needs from `Store` are declared below, for typing only.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.engine import make_url

from agentmem.memory_store import db
from agentmem.memory_store.models import IndexStats
from agentmem.memory_store.rows import _bytes_vec
from agentmem.memory_store.schema import items
from agentmem.memory_store.vector_index import VectorIndex

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from agentmem.errors import EmbedderMismatchError
    from agentmem.memory_store.embedders import Embedder

SAVE_EVERY_CHANGES = 5000
SAVE_EVERY_S = 120.0

# Hot-path statement built once, so SQLAlchemy reuses its compiled form on every search.
_WATERMARK = select(func.max(items.c.rev)).where(items.c.namespace == bindparam("ns"))


@dataclass
class _NsState:
    lock: threading.RLock = field(default_factory=threading.RLock)
    index: VectorIndex | None = None
    embedder_ok: bool = False
    dirty: int = 0
    last_save: float = field(default_factory=time.monotonic)


class IndexSyncMixin:
    """Per-namespace index state: load or rebuild, catch up with SQL, save, drop."""

    # Set by `Store.__init__` / `Store._open`.
    url: str
    schema: str | None
    embedder: Embedder
    hnsw_threshold: int
    _index_dir: Path | None
    _data_dir: Path
    _store_id: str
    _ns_guard: threading.Lock
    _ns: dict[str, _NsState]

    if TYPE_CHECKING:  # defined on `Store`

        @property
        def engine(self) -> Engine: ...

        def _ns_row(self, conn: Connection, namespace: str) -> Any: ...

        def _mismatch(self, namespace: str, row: Any) -> EmbedderMismatchError: ...

        def _check_embedder(self, conn: Connection, namespace: str, state: _NsState) -> None: ...

    @property
    def index_dir(self) -> Path:
        if self._index_dir is not None:
            return self._index_dir
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            return Path(str(Path(parsed.database).expanduser()) + ".faiss")
        key = hashlib.sha256(f"{db.safe_url(self.url)}|{self.schema}".encode()).hexdigest()[:16]
        return self._data_dir / "faiss" / key

    def _index_path(self, namespace: str) -> Path:
        digest = hashlib.sha256(namespace.encode()).hexdigest()[:24]
        return self.index_dir / f"{digest}-{self.embedder.name.replace('/', '_')}.npz"

    def _state(self, namespace: str) -> _NsState:
        with self._ns_guard:
            state = self._ns.get(namespace)
            if state is None:
                state = self._ns[namespace] = _NsState()
            return state

    def _db_watermark(self, conn: Connection, namespace: str) -> int:
        value = conn.execute(_WATERMARK, {"ns": namespace}).scalar()
        return int(value or 0)

    def _live_checksum(self, conn: Connection, namespace: str) -> tuple[int, int]:
        row = conn.execute(
            select(func.count(), func.coalesce(func.sum(items.c.seq), 0)).where(
                items.c.namespace == namespace, items.c.deleted.is_(False), items.c.embedding.is_not(None)
            )
        ).one()
        return int(row[0]), int(row[1])

    def _catch_up(self, conn: Connection, namespace: str, state: _NsState, index: VectorIndex) -> None:
        """Apply every change with rev > the index's watermark (rev order = commit order)."""
        db_wm = self._db_watermark(conn, namespace)
        if db_wm == index.watermark:
            return
        if db_wm < index.watermark:  # the database went back in time: the index is stale
            state.index = self._rebuild(conn, namespace)
            state.dirty += 1
            return
        rows = conn.execute(
            select(items.c.seq, items.c.rev, items.c.deleted, items.c.embedding)
            .where(items.c.namespace == namespace, items.c.rev > index.watermark)
            .order_by(items.c.rev)
        ).all()
        gone = [r.seq for r in rows if r.deleted or r.embedding is None]
        live = [r for r in rows if not r.deleted and r.embedding is not None]
        if gone:
            index.remove(gone)
        if live:
            vecs = np.vstack([_bytes_vec(r.embedding) for r in live])
            if vecs.shape[1] != index.dim:
                raise self._mismatch(namespace, self._ns_row(conn, namespace))
            index.upsert([r.seq for r in live], vecs)
        index.watermark = max(db_wm, max((r.rev for r in rows), default=0))
        state.dirty += len(rows)

    def _rebuild(self, conn: Connection, namespace: str) -> VectorIndex:
        """A fresh index from SQL. The watermark is read first so later changes are caught up."""
        watermark = self._db_watermark(conn, namespace)
        index = VectorIndex(self.embedder.dim, self.hnsw_threshold)
        seqs: list[int] = []
        blobs: list[bytes] = []
        result = conn.execute(
            select(items.c.seq, items.c.embedding)
            .where(items.c.namespace == namespace, items.c.deleted.is_(False), items.c.embedding.is_not(None))
            .order_by(items.c.seq)
            .execution_options(yield_per=5000)
        )
        for row in result:
            seqs.append(row.seq)
            blobs.append(row.embedding)
        if blobs:
            flat = np.frombuffer(b"".join(blobs), dtype=np.float32)
            if flat.size != len(blobs) * self.embedder.dim:
                raise self._mismatch(namespace, self._ns_row(conn, namespace))
            index.upsert(seqs, flat.reshape(len(blobs), self.embedder.dim))
        index.watermark = watermark
        return index

    def _load_or_rebuild(self, conn: Connection, namespace: str, state: _NsState) -> VectorIndex:
        path = self._index_path(namespace)
        index: VectorIndex | None = None
        if path.exists():
            try:
                index, meta = VectorIndex.load(path, self.hnsw_threshold)
                if (
                    meta.get("store_id") != self._store_id
                    or meta.get("namespace") != namespace
                    or meta.get("embedder") != self.embedder.name
                    or index.dim != self.embedder.dim
                ):
                    index = None
            except Exception:  # missing, truncated, corrupt: the index is derived, rebuild it
                index = None
        if index is not None:
            self._catch_up(conn, namespace, state, index)
            if state.index is not None and state.index is not index:  # catch-up decided to rebuild
                return state.index
            count, total = self._live_checksum(conn, namespace)
            seqs = index.seqs()
            if count != len(seqs) or total != sum(seqs):
                index = None
        if index is None:
            index = self._rebuild(conn, namespace)
            state.dirty += max(1, index.n_live)
        return index

    def ensure_index(self, conn: Connection, namespace: str, state: _NsState) -> VectorIndex:
        """The namespace's index, loaded/rebuilt on first use, caught up with SQL (caller holds state.lock)."""
        self._check_embedder(conn, namespace, state)
        if state.index is None:
            state.index = self._load_or_rebuild(conn, namespace, state)
            if state.dirty and state.index.n_live >= 1000:
                self._save(namespace, state)
        else:
            self._catch_up(conn, namespace, state, state.index)
        return state.index

    def _save(self, namespace: str, state: _NsState) -> None:
        assert state.index is not None
        try:
            state.index.save(
                self._index_path(namespace),
                {"store_id": self._store_id, "namespace": namespace, "embedder": self.embedder.name},
            )
        except OSError:  # a read-only disk must not break searches: the index is derived
            return
        state.dirty = 0
        state.last_save = time.monotonic()

    def _maybe_save(self, namespace: str, state: _NsState) -> None:
        if state.index is None or not state.dirty:
            return
        # Saving costs O(index size): save when the changes since the last save are as many as the index
        # holds (so bulk loads save a geometric number of times), or once a while. Unsaved changes are
        # never lost: SQL has them and the next open catches up from the saved watermark.
        due = state.dirty >= max(SAVE_EVERY_CHANGES, state.index.n_live // 2)
        if due or time.monotonic() - state.last_save > SAVE_EVERY_S:
            self._save(namespace, state)

    def sync_index(self, namespace: str) -> None:
        """Catch a loaded index up with SQL (after a write made outside `write`)."""
        state = self._state(namespace)
        with state.lock:
            if state.index is None:
                return
            with self.engine.connect() as conn:
                self._catch_up(conn, namespace, state, state.index)
            self._maybe_save(namespace, state)

    def flush(self, namespace: str) -> None:
        """Catch the index up with SQL and persist it now."""
        state = self._state(namespace)
        with state.lock, self.engine.connect() as conn:
            self.ensure_index(conn, namespace, state)
            self._save(namespace, state)

    def index_info(self, namespace: str) -> IndexStats:
        state = self._state(namespace)
        with state.lock, self.engine.connect() as conn:
            index = self.ensure_index(conn, namespace, state)
            return IndexStats(
                kind=index.kind, live=index.n_live, dead=index.n_dead, watermark=index.watermark
            )

    def drop_index(self, namespace: str) -> None:
        state = self._state(namespace)
        with state.lock:
            state.index = None
            self._index_path(namespace).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphan_tmp_files(directory: Path) -> None:
    """Delete half-written index files left by processes that died mid-save."""
    if not directory.is_dir():
        return
    for tmp in directory.glob("*.tmp-*"):
        try:
            pid = int(tmp.name.rsplit(".tmp-", 1)[1].split("-")[0])
        except (IndexError, ValueError):
            continue
        if not pid_alive(pid):
            tmp.unlink(missing_ok=True)

"""The store's engine room: SQL truth, derived per-namespace FAISS indexes, ranked search.

Everything here is synchronous and thread-safe; `AsyncMemory` runs it in worker threads and
`Memory` calls it directly, so the logic is written once. Write path: validate everything, commit
to SQL, then update the index. Read path: catch the index up to SQL's watermark, search, fetch
the rows from SQL (the truth), re-rank, diversify, threshold.

`Store` is assembled from parts with one job each: `rows` (shared helpers and validation),
`index_sync` (index bookkeeping), `reads` (read-only queries) and `search` (ranked search). This
module keeps the lifecycle, embedding, namespace registration and the write path, and re-exports
the helpers so `from agentmem.memory_store.core import ...` keeps working.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, func, insert, select, update

from agentmem.errors import EmbedderMismatchError, InvalidItemError, ItemNotFoundError, MemoryStoreError
from agentmem.memory_store import db
from agentmem.memory_store.embedders import Embedder, normalise
from agentmem.memory_store.index_sync import SAVE_EVERY_CHANGES as SAVE_EVERY_CHANGES
from agentmem.memory_store.index_sync import SAVE_EVERY_S as SAVE_EVERY_S
from agentmem.memory_store.index_sync import IndexSyncMixin, _NsState, remove_orphan_tmp_files
from agentmem.memory_store.index_sync import pid_alive as pid_alive
from agentmem.memory_store.reads import ReadsMixin
from agentmem.memory_store.rows import (
    _CHUNK,
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    _check_payload,
    _epoch,
    _vec_bytes,
    validate_namespace,
)
from agentmem.memory_store.rows import MAX_NAMESPACE_CHARS as MAX_NAMESPACE_CHARS
from agentmem.memory_store.rows import _bytes_vec as _bytes_vec
from agentmem.memory_store.rows import _match as _match
from agentmem.memory_store.rows import _predicate as _predicate
from agentmem.memory_store.rows import _ts as _ts
from agentmem.memory_store.rows import row_to_item as row_to_item
from agentmem.memory_store.rows import validate_kinds as validate_kinds
from agentmem.memory_store.schema import history, items, namespaces, store_meta, usage_events
from agentmem.memory_store.scoring import Scorer, WeightedScorer
from agentmem.memory_store.search import BRUTE_FORCE_AFTER as BRUTE_FORCE_AFTER
from agentmem.memory_store.search import SearchMixin
from agentmem.types import MEMORY_KINDS, MemoryDraft, MemoryItem

# The `X as X` imports above are explicit re-exports: the helpers and limits moved to `rows`,
# `index_sync` and `search`, and other modules and tests still import them from here.


class Store(ReadsMixin, SearchMixin, IndexSyncMixin):
    """One database + one embedder, serving any number of namespaces."""

    def __init__(
        self,
        url: str,
        embedder: Embedder,
        *,
        schema: str | None = None,
        index_dir: Path | None = None,
        hnsw_threshold: int | None = None,
        scorer: Scorer | None = None,
        max_text_chars: int = MAX_TEXT_CHARS,
    ):
        from agentmem.config import get_settings

        settings = get_settings()
        db.parse_url(url)  # typed error now, connection later
        self.url = url
        self.schema = schema
        self.embedder = embedder
        self.hnsw_threshold = hnsw_threshold or settings.memory.hnsw_threshold
        self.scorer: Scorer = scorer or WeightedScorer(half_life_days=settings.memory.recency_half_life_days)
        self.dedup_threshold = settings.memory.dedup_threshold
        self.max_text_chars = max_text_chars
        self._index_dir = index_dir
        self._data_dir = settings.data_dir
        self._engine: Engine | None = None
        self._store_id = ""
        self._open_lock = threading.Lock()
        self._ns_guard = threading.Lock()
        self._ns: dict[str, _NsState] = {}
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._qc_lock = threading.Lock()
        self.refs = 0
        self.closed = False

    # ------------------------------------------------------------------ lifecycle
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._open_lock:
                if self._engine is None:
                    self._open()
        assert self._engine is not None
        return self._engine

    def _open(self) -> None:
        if self.closed:
            raise MemoryStoreError("this memory store is closed")
        engine = db.make_engine(self.url, self.schema)
        db.check_connection(engine, self.url)
        db.upgrade(engine)

        def ensure_id() -> str:
            with db.write_tx(engine, "\x00store-meta", self.scope) as conn:
                found = conn.execute(
                    select(store_meta.c.value).where(store_meta.c.key == "store_id")
                ).scalar()
                if found:
                    return found
                new = uuid.uuid4().hex
                conn.execute(insert(store_meta).values(key="store_id", value=new))
                return new

        self._store_id = self._read_store_id(engine) or db.with_retry(ensure_id)
        self._engine = engine
        remove_orphan_tmp_files(self.index_dir)

    @staticmethod
    def _read_store_id(engine: Engine) -> str | None:
        with engine.connect() as conn:
            return conn.execute(select(store_meta.c.value).where(store_meta.c.key == "store_id")).scalar()

    @property
    def scope(self) -> str:
        """Separates advisory-lock keys of different schemas in one PostgreSQL database."""
        return self.schema or ""

    def close(self) -> None:
        """Persist dirty indexes and release connections."""
        if self.closed:
            return
        if self._engine is not None:
            for namespace, state in list(self._ns.items()):
                with state.lock:
                    if state.index is not None and state.dirty:
                        self._save(namespace, state)
            self._engine.dispose()
        self.closed = True

    # ------------------------------------------------------------------ embedding
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InvalidItemError("embed() takes a list of strings")
        vectors = self.embedder.embed([t[: self.max_text_chars] for t in texts])
        if vectors.shape != (len(texts), self.embedder.dim):
            raise EmbedderMismatchError(
                f"embedder {self.embedder.name!r} returned shape {vectors.shape}, "
                f"expected ({len(texts)}, {self.embedder.dim})"
            )
        return normalise(vectors)

    def _embed_query(self, query: str) -> np.ndarray:
        with self._qc_lock:
            hit = self._query_cache.get(query)
            if hit is not None:
                self._query_cache.move_to_end(query)
                return hit
        vector = self.embed([query])[0]
        with self._qc_lock:
            self._query_cache[query] = vector
            if len(self._query_cache) > 1024:
                self._query_cache.popitem(last=False)
        return vector

    def _check_vectors(self, vectors: Any, n: int) -> np.ndarray:
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.ndim == 1 and n == 1:
            arr = arr.reshape(1, -1)
        if arr.shape != (n, self.embedder.dim):
            raise InvalidItemError(
                f"vectors have shape {arr.shape}; expected ({n}, {self.embedder.dim}) for {self.embedder.name!r}"
            )
        if not np.isfinite(arr).all():
            raise InvalidItemError("vectors contain NaN or infinity")
        if (np.linalg.norm(arr, axis=1) == 0).any():
            raise InvalidItemError("vectors contain an all-zero row")
        return normalise(arr)

    # ------------------------------------------------------------------ namespaces / embedder check
    def _ns_row(self, conn: Connection, namespace: str) -> Any:
        return conn.execute(select(namespaces).where(namespaces.c.name == namespace)).first()

    def _mismatch(self, namespace: str, row: Any) -> EmbedderMismatchError:
        return EmbedderMismatchError(
            f"namespace {namespace!r} holds vectors from {row.embedder!r} (dim {row.dim}) but this store "
            f"embeds with {self.embedder.name!r} (dim {self.embedder.dim}); run "
            f"`agentmem memory reembed --namespace {namespace}` to migrate"
        )

    def _check_embedder(self, conn: Connection, namespace: str, state: _NsState) -> None:
        if state.embedder_ok:
            return
        row = self._ns_row(conn, namespace)
        stale = row is not None and row.embedder is not None
        if stale and (row.embedder != self.embedder.name or row.dim != self.embedder.dim):
            raise self._mismatch(namespace, row)
        state.embedder_ok = True

    def _register_namespace(self, conn: Connection, namespace: str, indexed: bool) -> None:
        row = self._ns_row(conn, namespace)
        name, dim = (self.embedder.name, self.embedder.dim) if indexed else (None, None)
        if row is None:
            conn.execute(
                insert(namespaces).values(name=namespace, embedder=name, dim=dim, created_at=time.time())
            )
        elif row.embedder is None and indexed:
            conn.execute(
                update(namespaces).where(namespaces.c.name == namespace).values(embedder=name, dim=dim)
            )
        elif row.embedder is not None and (
            row.embedder != self.embedder.name or row.dim != self.embedder.dim
        ):
            raise self._mismatch(namespace, row)

    # ------------------------------------------------------------------ writes
    def prepare(
        self, namespace: str, entries: Sequence[MemoryDraft | MemoryItem | dict[str, Any]]
    ) -> tuple[list[MemoryItem], bool]:
        """Validate and normalise entries into full items (ids, timestamps, truncation)."""
        validate_namespace(namespace)
        if isinstance(entries, str | bytes) or not isinstance(entries, Sequence):
            raise InvalidItemError("add_many() takes a list of MemoryDraft/MemoryItem")
        now = datetime.now(UTC)
        out: list[MemoryItem] = []
        explicit = False
        seen: set[str] = set()
        for entry in entries:
            if isinstance(entry, dict):
                try:
                    entry = (
                        MemoryDraft.model_validate(entry)
                        if "id" not in entry
                        else MemoryItem.model_validate({"namespace": namespace, **entry})
                    )
                except Exception as exc:
                    raise InvalidItemError(f"invalid memory entry: {exc}") from exc
            if not isinstance(entry, MemoryDraft | MemoryItem):
                raise InvalidItemError(
                    f"cannot store a {type(entry).__name__}; use MemoryDraft or MemoryItem"
                )
            if entry.kind not in MEMORY_KINDS:
                raise InvalidItemError(f"unknown memory kind {entry.kind!r}; use {MEMORY_KINDS}")
            text = entry.text
            if not isinstance(text, str) or not text.strip():
                raise InvalidItemError("memory text must be a non-empty string")
            truncated = bool(getattr(entry, "truncated", False))
            if len(text) > self.max_text_chars:
                text, truncated = text[: self.max_text_chars], True
            payload = _check_payload(entry.payload)
            if isinstance(entry, MemoryItem):
                explicit = True
                if not entry.id or len(entry.id) > MAX_ID_CHARS:
                    raise InvalidItemError(f"item id must be 1..{MAX_ID_CHARS} characters")
                item = entry.model_copy(
                    update={"namespace": namespace, "text": text, "payload": payload, "truncated": truncated}
                )
            else:
                item = MemoryItem(
                    namespace=namespace,
                    kind=entry.kind,
                    text=text,
                    payload=payload,
                    created_at=now,
                    updated_at=now,
                    truncated=truncated,
                )
            if item.id in seen:
                raise InvalidItemError(f"duplicate id {item.id!r} in one batch")
            seen.add(item.id)
            out.append(item)
        return out, explicit

    def write(
        self,
        namespace: str,
        new_items: list[MemoryItem],
        vectors: np.ndarray | None,
        *,
        explicit_ids: bool,
        upsert: bool = False,
        indexed: Sequence[bool] | None = None,
        event: str = "add",
    ) -> list[MemoryItem]:
        """Commit items (insert, or replace when `upsert`) and then update the namespace's index."""
        if not new_items:
            return []
        mask = list(indexed) if indexed is not None else [True] * len(new_items)
        if vectors is None:
            vectors = np.zeros((len(new_items), self.embedder.dim), dtype=np.float32)
            todo = [i for i, m in enumerate(mask) if m]
            if todo:
                vectors[todo] = self.embed([new_items[i].text for i in todo])
        else:
            vectors = self._check_vectors(vectors, len(new_items))
        any_indexed = any(mask)
        engine = self.engine
        state = self._state(namespace)

        def tx() -> tuple[list[int], int, int]:
            with db.write_tx(engine, namespace, self.scope) as conn:
                self._register_namespace(conn, namespace, any_indexed)
                base = conn.execute(
                    select(func.max(items.c.rev)).where(items.c.namespace == namespace)
                ).scalar()
                base = int(base or 0)
                existing: dict[str, Any] = {}
                if explicit_ids:
                    ids = [it.id for it in new_items]
                    for start in range(0, len(ids), _CHUNK):
                        rows = conn.execute(
                            select(items.c.id, items.c.seq, items.c.deleted, items.c.created_at).where(
                                items.c.namespace == namespace, items.c.id.in_(ids[start : start + _CHUNK])
                            )
                        )
                        existing.update({r.id: r for r in rows})
                if existing and not upsert:
                    raise InvalidItemError(f"ids already exist in {namespace!r}: {sorted(existing)[:5]}")
                seqs: list[int | None] = [None] * len(new_items)
                inserts: list[dict[str, Any]] = []
                positions: list[int] = []
                hist: list[dict[str, Any]] = []
                now = time.time()
                rev = base
                for pos, item in enumerate(new_items):
                    rev += 1
                    values = {
                        "id": item.id,
                        "namespace": namespace,
                        "kind": item.kind,
                        "text": item.text,
                        "payload": item.payload,
                        "embedding": _vec_bytes(vectors[pos]) if mask[pos] else None,
                        "embedder": self.embedder.name if mask[pos] else None,
                        "dim": self.embedder.dim if mask[pos] else None,
                        "created_at": _epoch(item.created_at),
                        "updated_at": _epoch(item.updated_at),
                        "last_used_at": _epoch(item.last_used_at),
                        "uses": item.uses,
                        "reward_sum": item.reward_sum,
                        "reward_count": item.reward_count,
                        "truncated": item.truncated,
                        "deleted": False,
                        "merged_into": None,
                        "rev": rev,
                    }
                    old = existing.get(item.id)
                    if old is not None:
                        values["created_at"] = old.created_at
                        values["updated_at"] = now
                        conn.execute(update(items).where(items.c.seq == old.seq).values(**values))
                        seqs[pos] = old.seq
                        kind_of_event = "update" if event == "add" else event
                    else:
                        inserts.append(values)
                        positions.append(pos)
                        kind_of_event = event
                    hist.append(
                        {
                            "namespace": namespace,
                            "item_id": item.id,
                            "event": kind_of_event,
                            "text": item.text,
                            "payload": item.payload,
                            "detail": {"truncated": item.truncated} if item.truncated else None,
                            "created_at": now,
                        }
                    )
                if inserts:
                    result = conn.execute(
                        insert(items).returning(items.c.seq, sort_by_parameter_order=True), inserts
                    )
                    for pos, seq in zip(positions, result.scalars().all(), strict=True):
                        seqs[pos] = seq
                conn.execute(insert(history), hist)
                return [int(s) for s in seqs if s is not None], base + 1, rev

        seqs, first_rev, last_rev = db.with_retry(tx)
        state.embedder_ok = state.embedder_ok or any_indexed
        self._after_write(namespace, state, first_rev, last_rev, seqs, vectors, mask)
        return new_items

    def _after_write(
        self,
        namespace: str,
        state: _NsState,
        first_rev: int,
        last_rev: int,
        seqs: list[int],
        vectors: np.ndarray,
        mask: list[bool],
    ) -> None:
        """SQL is committed; bring a loaded index along (cheaply when no one else wrote in between)."""
        with state.lock:
            index = state.index
            if index is None:
                return
            if index.watermark == first_rev - 1:
                keep = [i for i, m in enumerate(mask) if m]
                drop = [seqs[i] for i, m in enumerate(mask) if not m]
                if drop:
                    index.remove(drop)
                if keep:
                    index.upsert(np.asarray(seqs)[keep], vectors[keep])
                index.watermark = last_rev
                state.dirty += len(seqs)
            else:
                with self.engine.connect() as conn:
                    self._catch_up(conn, namespace, state, index)
            self._maybe_save(namespace, state)

    def touch_rev(self, conn: Connection, namespace: str) -> int:
        base = conn.execute(select(func.max(items.c.rev)).where(items.c.namespace == namespace)).scalar()
        return int(base or 0) + 1

    def update_item(
        self, namespace: str, item_id: str, text: str | None = None, payload: dict[str, Any] | None = None
    ) -> MemoryItem:
        validate_namespace(namespace)
        if text is None and payload is None:
            raise InvalidItemError("update() needs a new text and/or payload")
        truncated = None
        vector = None
        if text is not None:
            if not isinstance(text, str) or not text.strip():
                raise InvalidItemError("memory text must be a non-empty string")
            truncated = len(text) > self.max_text_chars
            text = text[: self.max_text_chars]
            vector = self.embed([text])[0]
        if payload is not None:
            _check_payload(payload)
        state = self._state(namespace)

        def tx() -> tuple[int, int]:
            with db.write_tx(self.engine, namespace, self.scope) as conn:
                row = conn.execute(
                    select(items.c.seq, items.c.embedding).where(
                        items.c.namespace == namespace, items.c.id == item_id, items.c.deleted.is_(False)
                    )
                ).first()
                if row is None:
                    raise ItemNotFoundError(f"no item {item_id!r} in namespace {namespace!r}")
                if vector is not None:
                    self._register_namespace(conn, namespace, True)
                rev = self.touch_rev(conn, namespace)
                values: dict[str, Any] = {"rev": rev, "updated_at": time.time()}
                if text is not None:
                    values.update(
                        text=text,
                        truncated=truncated,
                        embedding=_vec_bytes(vector),
                        embedder=self.embedder.name,
                        dim=self.embedder.dim,
                    )
                if payload is not None:
                    values["payload"] = payload
                conn.execute(update(items).where(items.c.seq == row.seq).values(**values))
                conn.execute(
                    insert(history).values(
                        namespace=namespace,
                        item_id=item_id,
                        event="update",
                        text=text,
                        payload=payload,
                        detail={"text_changed": text is not None, "payload_changed": payload is not None},
                        created_at=time.time(),
                    )
                )
                return int(row.seq), rev

        seq, rev = db.with_retry(tx)
        if vector is not None:
            self._after_write(namespace, state, rev, rev, [seq], vector.reshape(1, -1), [True])
        else:
            self._after_write(namespace, state, rev, rev, [], np.zeros((0, self.embedder.dim)), [])
        return self.get(namespace, item_id)

    def delete(self, namespace: str, item_ids: Sequence[str], event: str = "delete", merged_into=None) -> int:
        """Tombstone items (rows stay so every index sees the deletion). Missing ids raise."""
        validate_namespace(namespace)
        ids = list(item_ids)
        state = self._state(namespace)

        def tx() -> tuple[list[int], int, int]:
            with db.write_tx(self.engine, namespace, self.scope) as conn:
                rows = []
                for start in range(0, len(ids), _CHUNK):
                    rows += conn.execute(
                        select(items.c.seq, items.c.id).where(
                            items.c.namespace == namespace,
                            items.c.id.in_(ids[start : start + _CHUNK]),
                            items.c.deleted.is_(False),
                        )
                    ).all()
                found = {r.id for r in rows}
                missing = [i for i in ids if i not in found]
                if missing:
                    raise ItemNotFoundError(f"no live items {missing[:5]} in namespace {namespace!r}")
                first = rev = self.touch_rev(conn, namespace)
                now = time.time()
                for r in rows:
                    conn.execute(
                        update(items)
                        .where(items.c.seq == r.seq)
                        .values(deleted=True, rev=rev, updated_at=now, merged_into=merged_into)
                    )
                    rev += 1
                conn.execute(
                    insert(history),
                    [
                        {
                            "namespace": namespace,
                            "item_id": r.id,
                            "event": event,
                            "text": None,
                            "payload": None,
                            "detail": {"merged_into": merged_into} if merged_into else None,
                            "created_at": now,
                        }
                        for r in rows
                    ],
                )
                return [int(r.seq) for r in rows], first, rev - 1

        if not ids:
            return 0
        seqs, first, last = db.with_retry(tx)
        self._after_write(
            namespace, state, first, last, seqs, np.zeros((len(seqs), self.embedder.dim)), [False] * len(seqs)
        )
        return len(seqs)

    def record_usage(
        self, namespace: str, item_ids: Sequence[str], episode_id: str, reward: float, task_id: str | None
    ) -> None:
        validate_namespace(namespace)
        if isinstance(item_ids, str):
            raise InvalidItemError("item_ids must be a list of ids")
        ids = list(dict.fromkeys(item_ids))
        if not isinstance(episode_id, str) or not episode_id:
            raise InvalidItemError("episode_id must be a non-empty string")
        try:
            reward = float(reward)
        except (TypeError, ValueError) as exc:
            raise InvalidItemError(f"reward must be a number, got {reward!r}") from exc
        if not math.isfinite(reward):
            raise InvalidItemError("reward must be finite")
        if not ids:
            return

        def tx() -> None:
            with db.write_tx(self.engine, namespace, self.scope) as conn:
                rows = conn.execute(
                    select(items.c.seq, items.c.id, items.c.merged_into).where(
                        items.c.namespace == namespace, items.c.id.in_(ids)
                    )
                ).all()
                by_id = {r.id: r for r in rows}
                missing = [i for i in ids if i not in by_id]
                if missing:
                    raise ItemNotFoundError(f"no items {missing[:5]} in namespace {namespace!r}")
                now = time.time()
                credit: list[str] = []
                for item_id in ids:
                    credit.append(item_id)
                    survivor = by_id[item_id].merged_into
                    if survivor:  # a merged-away item's usage also credits what it was merged into
                        credit.append(survivor)
                for item_id in dict.fromkeys(credit):
                    conn.execute(
                        update(items)
                        .where(items.c.namespace == namespace, items.c.id == item_id)
                        .values(
                            uses=items.c.uses + 1,
                            reward_sum=items.c.reward_sum + reward,
                            reward_count=items.c.reward_count + 1,
                            last_used_at=now,
                        )
                    )
                conn.execute(
                    insert(usage_events),
                    [
                        {
                            "namespace": namespace,
                            "item_id": item_id,
                            "episode_id": episode_id,
                            "task_id": task_id,
                            "rank": rank,
                            "reward": reward,
                            "created_at": now,
                        }
                        for rank, item_id in enumerate(ids)
                    ],
                )

        db.with_retry(tx)

    def reembed(self, namespace: str, batch_size: int = 256) -> int:
        """Re-embed every item of a namespace with this store's embedder (after a model change)."""
        validate_namespace(namespace)
        state = self._state(namespace)
        done = 0
        last_seq = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(items.c.seq, items.c.text)
                    .where(
                        items.c.namespace == namespace,
                        items.c.seq > last_seq,
                        items.c.deleted.is_(False),
                        items.c.embedding.is_not(None),
                    )
                    .order_by(items.c.seq)
                    .limit(batch_size)
                ).all()
            if not rows:
                break
            vectors = self.embed([r.text for r in rows])

            def tx(rows=rows, vectors=vectors) -> None:
                with db.write_tx(self.engine, namespace, self.scope) as conn:
                    rev = self.touch_rev(conn, namespace)
                    for offset, r in enumerate(rows):
                        conn.execute(
                            update(items)
                            .where(items.c.seq == r.seq)
                            .values(
                                embedding=_vec_bytes(vectors[offset]),
                                embedder=self.embedder.name,
                                dim=self.embedder.dim,
                                rev=rev + offset,
                            )
                        )

            db.with_retry(tx)
            done += len(rows)
            last_seq = rows[-1].seq

        def finish() -> None:
            with db.write_tx(self.engine, namespace, self.scope) as conn:
                row = self._ns_row(conn, namespace)
                if row is None:
                    conn.execute(
                        insert(namespaces).values(
                            name=namespace,
                            embedder=self.embedder.name,
                            dim=self.embedder.dim,
                            created_at=time.time(),
                        )
                    )
                else:
                    conn.execute(
                        update(namespaces)
                        .where(namespaces.c.name == namespace)
                        .values(embedder=self.embedder.name, dim=self.embedder.dim)
                    )

        db.with_retry(finish)
        with state.lock:
            state.embedder_ok = False
            state.index = None
            for old in self.index_dir.glob(f"{hashlib.sha256(namespace.encode()).hexdigest()[:24]}-*.npz"):
                old.unlink(missing_ok=True)
        self.flush(namespace)
        return done

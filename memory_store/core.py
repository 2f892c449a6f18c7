"""The store's engine room: SQL truth, derived per-namespace FAISS indexes, ranked search.

Everything here is synchronous and thread-safe; `AsyncMemory` runs it in worker threads and
`Memory` calls it directly, so the logic is written once. Write path: validate everything, commit
to SQL, then update the index. Read path: catch the index up to SQL's watermark, search, fetch
the rows from SQL (the truth), re-rank, diversify, threshold.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.engine import make_url

from agentmem.errors import EmbedderMismatchError, InvalidItemError, ItemNotFoundError, MemoryStoreError
from agentmem.memory_store import db
from agentmem.memory_store.embedders import Embedder, normalise
from agentmem.memory_store.models import IndexStats, MemoryStats, UsageEvent
from agentmem.memory_store.schema import history, items, namespaces, store_meta, usage_events
from agentmem.memory_store.scoring import Scorer, WeightedScorer, mmr_order
from agentmem.memory_store.vector_index import VectorIndex
from agentmem.types import MEMORY_KINDS, MemoryDraft, MemoryItem, SearchHit

MAX_TEXT_CHARS = 16_000
MAX_ID_CHARS = 255
MAX_NAMESPACE_CHARS = 255
BRUTE_FORCE_AFTER = 4096  # over-fetch limit before a filtered search scans SQL exactly
SAVE_EVERY_CHANGES = 5000
SAVE_EVERY_S = 120.0
_CHUNK = 500

_ITEM_COLS = (
    items.c.seq,
    items.c.id,
    items.c.namespace,
    items.c.kind,
    items.c.text,
    items.c.payload,
    items.c.created_at,
    items.c.updated_at,
    items.c.last_used_at,
    items.c.uses,
    items.c.reward_sum,
    items.c.reward_count,
    items.c.truncated,
)


# Hot-path statements built once, so SQLAlchemy reuses their compiled form on every search.
_WATERMARK = select(func.max(items.c.rev)).where(items.c.namespace == bindparam("ns"))
_ROWS_BY_SEQ = select(*_ITEM_COLS, items.c.embedding, items.c.deleted).where(
    items.c.seq.in_(bindparam("seqs", expanding=True))
)


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def row_to_item(row: Any) -> MemoryItem:
    return MemoryItem.model_construct(
        id=row.id,
        namespace=row.namespace,
        kind=row.kind,
        text=row.text,
        payload=row.payload or {},
        created_at=_ts(row.created_at),
        updated_at=_ts(row.updated_at),
        last_used_at=_ts(row.last_used_at),
        uses=row.uses,
        reward_sum=row.reward_sum,
        reward_count=row.reward_count,
        truncated=bool(row.truncated),
    )


def validate_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not namespace.strip():
        raise InvalidItemError("namespace must be a non-empty string")
    if len(namespace) > MAX_NAMESPACE_CHARS:
        raise InvalidItemError(f"namespace longer than {MAX_NAMESPACE_CHARS} characters")
    return namespace


def validate_kinds(kinds: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        kinds = (kinds,)
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in MEMORY_KINDS]
    if bad or not kinds:
        raise InvalidItemError(f"unknown memory kinds {bad or kinds!r}; use {MEMORY_KINDS}")
    return kinds


def _check_payload(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidItemError(f"payload must be a dict, got {type(payload).__name__}")
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidItemError(f"payload is not JSON-serialisable: {exc}") from exc
    return payload


def _match(payload: dict[str, Any], filters: dict[str, Any] | None) -> bool:
    if not filters:
        return True
    for key, want in filters.items():
        if key not in payload:
            return False
        have = payload[key]
        # JSON has one number type: 1 == 1.0, but True must not equal 1.
        if isinstance(want, bool) != isinstance(have, bool) or have != want:
            return False
    return True


def _predicate(
    filters: dict[str, Any] | None, where: Callable[[dict[str, Any]], bool] | None
) -> Callable[[dict[str, Any]], bool] | None:
    if not filters and where is None:
        return None
    return lambda payload: _match(payload, filters) and (where is None or where(payload))


def _vec_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()


def _bytes_vec(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


@dataclass
class _NsState:
    lock: threading.RLock = field(default_factory=threading.RLock)
    index: VectorIndex | None = None
    embedder_ok: bool = False
    dirty: int = 0
    last_save: float = field(default_factory=time.monotonic)


class Store:
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

    def _state(self, namespace: str) -> _NsState:
        with self._ns_guard:
            state = self._ns.get(namespace)
            if state is None:
                state = self._ns[namespace] = _NsState()
            return state

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

    # ------------------------------------------------------------------ reads
    def get(self, namespace: str, item_id: str) -> MemoryItem:
        found = self.get_many(namespace, [item_id])
        if not found:
            raise ItemNotFoundError(f"no item {item_id!r} in namespace {namespace!r}")
        return found[0]

    def get_many(self, namespace: str, item_ids: Sequence[str]) -> list[MemoryItem]:
        validate_namespace(namespace)
        ids = list(item_ids)
        out: dict[str, MemoryItem] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                for row in conn.execute(
                    select(*_ITEM_COLS).where(
                        items.c.namespace == namespace,
                        items.c.id.in_(ids[start : start + _CHUNK]),
                        items.c.deleted.is_(False),
                    )
                ):
                    out[row.id] = row_to_item(row)
        return [out[i] for i in ids if i in out]

    def list_items(
        self,
        namespace: str,
        kinds: tuple[str, ...] | None = None,
        filters: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = True,
        where: Callable[[dict[str, Any]], bool] | None = None,
        indexed: bool | None = None,
    ) -> list[MemoryItem]:
        """Items in a namespace (payload filters applied), newest first: a listing, not a search."""
        validate_namespace(namespace)
        query = select(*_ITEM_COLS).where(items.c.namespace == namespace, items.c.deleted.is_(False))
        if kinds:
            query = query.where(items.c.kind.in_(kinds))
        if indexed is not None:
            query = query.where(items.c.embedding.is_not(None) if indexed else items.c.embedding.is_(None))
        query = query.order_by(
            *((items.c.updated_at.desc(), items.c.seq.desc()) if newest_first else (items.c.seq.asc(),))
        )
        keep = _predicate(filters, where)
        out: list[MemoryItem] = []
        skipped = 0
        with self.engine.connect() as conn:
            for row in conn.execute(query.execution_options(yield_per=1000)):
                if keep is not None and not keep(row.payload or {}):
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                out.append(row_to_item(row))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def count(self, namespace: str, kinds: tuple[str, ...] | None = None) -> int:
        validate_namespace(namespace)
        query = (
            select(func.count())
            .select_from(items)
            .where(items.c.namespace == namespace, items.c.deleted.is_(False))
        )
        if kinds:
            query = query.where(items.c.kind.in_(kinds))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def vectors(self, namespace: str, item_ids: Sequence[str]) -> dict[str, np.ndarray]:
        validate_namespace(namespace)
        ids = list(dict.fromkeys(item_ids))
        out: dict[str, np.ndarray] = {}
        known: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                for row in conn.execute(
                    select(items.c.id, items.c.embedding).where(
                        items.c.namespace == namespace, items.c.id.in_(ids[start : start + _CHUNK])
                    )
                ):
                    known.add(row.id)
                    if row.embedding is not None:
                        out[row.id] = _bytes_vec(row.embedding).copy()
        missing = [i for i in ids if i not in known]
        if missing:
            raise ItemNotFoundError(f"no items {missing[:5]} in namespace {namespace!r}")
        return out

    def history(self, namespace: str, item_id: str) -> list[dict[str, Any]]:
        validate_namespace(namespace)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(history)
                .where(history.c.namespace == namespace, history.c.item_id == item_id)
                .order_by(history.c.seq)
            ).all()
        if not rows:
            raise ItemNotFoundError(f"no item {item_id!r} in namespace {namespace!r}")
        return [
            {
                "item_id": r.item_id,
                "event": r.event,
                "text": r.text,
                "payload": r.payload,
                "detail": r.detail,
                "created_at": _ts(r.created_at),
            }
            for r in rows
        ]

    def usage_events(self, namespace: str, limit: int | None = None) -> list[UsageEvent]:
        validate_namespace(namespace)
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InvalidItemError("limit must be a positive integer")
        query = (
            select(usage_events)
            .where(usage_events.c.namespace == namespace)
            .order_by(usage_events.c.seq.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            UsageEvent(
                namespace=r.namespace,
                item_id=r.item_id,
                episode_id=r.episode_id,
                task_id=r.task_id,
                rank=r.rank,
                reward=r.reward,
                created_at=_ts(r.created_at),
            )
            for r in reversed(rows)
        ]

    def list_namespaces(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.namespace)
                .where(items.c.deleted.is_(False))
                .distinct()
                .order_by(items.c.namespace)
            )
            return [r.namespace for r in rows]

    # ------------------------------------------------------------------ index maintenance
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

    # ------------------------------------------------------------------ search
    def search(
        self,
        namespace: str,
        query: str | None,
        k: int = 5,
        kinds: Iterable[str] | str | None = None,
        filters: dict[str, Any] | None = None,
        min_score: float | None = None,
        mmr_lambda: float | None = None,
        vector: np.ndarray | None = None,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[SearchHit]:
        """filter → vector top-k → re-rank by the scorer → optional MMR → threshold.

        `where` is an extra payload predicate for callers with richer filters (the LangGraph adapter).
        """
        validate_namespace(namespace)
        if vector is None and (not isinstance(query, str) or not query.strip()):
            raise InvalidItemError("search query must be a non-empty string")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidItemError(f"k must be a positive integer, got {k!r}")
        kinds_t = validate_kinds(kinds)
        if filters is not None and not isinstance(filters, dict):
            raise InvalidItemError("filters must be a dict of payload key -> value")
        if mmr_lambda is not None and not (0.0 <= mmr_lambda <= 1.0):
            raise InvalidItemError("mmr_lambda must be within [0, 1]")
        if min_score is not None and not math.isfinite(min_score):
            raise InvalidItemError("min_score must be a finite number")
        qv = self._check_vectors(vector, 1)[0] if vector is not None else self._embed_query(query)
        pool = max(3 * k, 20)
        candidates = self._candidates(namespace, qv, pool, kinds_t, _predicate(filters, where))
        now = time.time()
        scored = [(self.scorer.score(sim, item, now), item, vec) for item, sim, vec in candidates]
        scored.sort(key=lambda t: t[0].final, reverse=True)
        if mmr_lambda is not None and scored:
            order = mmr_order(
                [p.final for p, _, _ in scored], np.vstack([v for _, _, v in scored]), mmr_lambda, len(scored)
            )
            picked = []
            for idx, penalty in order:
                parts, item, vec = scored[idx]
                picked.append((parts.model_copy(update={"mmr_penalty": penalty}), item, vec))
            scored = picked
        hits = [
            SearchHit.model_construct(item=item, score=parts.final, parts=parts)
            for parts, item, _ in scored
            if min_score is None or parts.final >= min_score
        ]
        return hits[:k]

    def _candidates(
        self,
        namespace: str,
        qv: np.ndarray,
        pool: int,
        kinds: tuple[str, ...] | None,
        keep: Callable[[dict[str, Any]], bool] | None,
    ) -> list[tuple[MemoryItem, float, np.ndarray]]:
        state = self._state(namespace)
        selective = bool(kinds or keep)
        fetch = pool * 4 if selective else pool
        with self.engine.connect() as conn:
            while True:
                with state.lock:
                    index = self.ensure_index(conn, namespace, state)
                    n_live = index.n_live
                    seqs, sims = index.search(qv.reshape(1, -1), fetch)
                    self._maybe_save(namespace, state)
                pairs = [(int(s), float(x)) for s, x in zip(seqs[0], sims[0], strict=True) if s >= 0]
                rows = self._rows_by_seq(conn, namespace, [s for s, _ in pairs], kinds)
                found: list[tuple[MemoryItem, float, np.ndarray]] = []
                for seq, sim in pairs:
                    row = rows.get(seq)
                    if row is None or (keep is not None and not keep(row.payload or {})):
                        continue
                    found.append((row_to_item(row), sim, _bytes_vec(row.embedding)))
                if len(found) >= pool or fetch >= n_live:
                    return found[:pool]
                if fetch >= BRUTE_FORCE_AFTER:
                    return self._exact_candidates(conn, namespace, qv, pool, kinds, keep)
                fetch *= 4

    def _rows_by_seq(
        self, conn: Connection, namespace: str, seqs: list[int], kinds: tuple[str, ...] | None
    ) -> dict[int, Any]:
        """Rows by primary key. Namespace/tombstone/kind are checked here, not in SQL, so the planner
        always takes the primary key instead of scanning the namespace index."""
        out: dict[int, Any] = {}
        for start in range(0, len(seqs), _CHUNK):
            for row in conn.execute(_ROWS_BY_SEQ, {"seqs": seqs[start : start + _CHUNK]}):
                # belt and braces: never another tenant's row, never a tombstone
                if row.namespace != namespace or row.deleted or row.embedding is None:
                    continue
                if kinds and row.kind not in kinds:
                    continue
                out[row.seq] = row
        return out

    def _exact_candidates(
        self,
        conn: Connection,
        namespace: str,
        qv: np.ndarray,
        pool: int,
        kinds: tuple[str, ...] | None,
        keep: Callable[[dict[str, Any]], bool] | None,
    ) -> list[tuple[MemoryItem, float, np.ndarray]]:
        """Selective filters: scan the matching rows in SQL and score them exactly."""
        query = select(*_ITEM_COLS, items.c.embedding).where(
            items.c.namespace == namespace, items.c.deleted.is_(False), items.c.embedding.is_not(None)
        )
        if kinds:
            query = query.where(items.c.kind.in_(kinds))
        rows = [
            r
            for r in conn.execute(query.execution_options(yield_per=2000))
            if keep is None or keep(r.payload or {})
        ]
        if not rows:
            return []
        mat = np.vstack([_bytes_vec(r.embedding) for r in rows])
        sims = mat @ qv
        top = np.argsort(-sims)[:pool]
        return [(row_to_item(rows[i]), float(sims[i]), mat[i]) for i in top.tolist()]

    # ------------------------------------------------------------------ stats / maintenance
    def stats(self, namespace: str) -> MemoryStats:
        validate_namespace(namespace)
        with self.engine.connect() as conn:
            by_kind = {
                r.kind: int(r.n)
                for r in conn.execute(
                    select(items.c.kind, func.count().label("n"))
                    .where(items.c.namespace == namespace, items.c.deleted.is_(False))
                    .group_by(items.c.kind)
                )
            }
            deleted = conn.execute(
                select(func.count()).where(items.c.namespace == namespace, items.c.deleted.is_(True))
            ).scalar()
            n_usage = conn.execute(
                select(func.count()).select_from(usage_events).where(usage_events.c.namespace == namespace)
            ).scalar()
            ns_row = self._ns_row(conn, namespace)
            db_wm = self._db_watermark(conn, namespace)
        index = None
        if ns_row is not None and ns_row.embedder is not None:
            try:
                index = self.index_info(namespace)
            except EmbedderMismatchError:
                index = None
        return MemoryStats(
            namespace=namespace,
            url=db.safe_url(self.url),
            items=sum(by_kind.values()),
            by_kind=by_kind,
            deleted=int(deleted or 0),
            usage_events=int(n_usage or 0),
            embedder=ns_row.embedder if ns_row is not None else None,
            dim=ns_row.dim if ns_row is not None else None,
            db_watermark=db_wm,
            index=index,
        )

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

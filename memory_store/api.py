"""Public facades: `AsyncMemory` (async-first) and `Memory` (blocking), both thin over one `Store`.

Stores are shared per process by (url, schema, embedder, ...), so `with_namespace` and several
facades on one database reuse one engine, one embedder and one index per namespace.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from agentmem.errors import InvalidItemError, MemoryStoreError
from agentmem.memory_store.core import Store, _check_payload, validate_kinds, validate_namespace
from agentmem.memory_store.embedders import Embedder, get_embedder
from agentmem.memory_store.models import ConsolidationReport, MemoryStats, TransferReport, UsageEvent
from agentmem.memory_store.scoring import Scorer
from agentmem.types import MemoryDraft, MemoryItem, SearchHit

_registry: dict[tuple, Store] = {}
_registry_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Persist indexes of stores left open (e.g. `with_namespace` views nobody closed) at exit."""
    with _registry_lock:
        stores = list(_registry.values())
        _registry.clear()
    for store in stores:
        # exiting: a failure here only costs a catch-up on the next open (the index is derived)
        with contextlib.suppress(Exception):
            store.close()


def _acquire(
    url: str | None,
    embedder: Embedder | str | None,
    schema: str | None,
    index_dir: Path | None,
    scorer: Scorer | None,
    hnsw_threshold: int | None,
) -> Store:
    from agentmem.config import get_settings

    url = get_settings().memory_url if url is None else url
    if embedder is None or isinstance(embedder, str):
        embedder = get_embedder(embedder)
    elif not isinstance(embedder, Embedder):
        raise InvalidItemError(
            f"embedder must implement the Embedder protocol, got {type(embedder).__name__}"
        )
    key = (url, schema, str(index_dir), id(embedder), id(scorer) if scorer else None, hnsw_threshold)
    with _registry_lock:
        store = _registry.get(key)
        if store is None or store.closed:
            store = Store(
                url,
                embedder,
                schema=schema,
                index_dir=index_dir,
                scorer=scorer,
                hnsw_threshold=hnsw_threshold,
            )
            store.registry_key = key  # type: ignore[attr-defined]
            _registry[key] = store
        store.refs += 1
        return store


def _release(store: Store) -> None:
    with _registry_lock:
        store.refs -= 1
        if store.refs > 0:
            return
        key = getattr(store, "registry_key", None)
        if _registry.get(key) is store:
            del _registry[key]
    store.close()


class _Base:
    def __init__(
        self,
        namespace: str = "default",
        url: str | None = None,
        embedder: Embedder | str | None = None,
        *,
        schema: str | None = None,
        index_dir: str | Path | None = None,
        scorer: Scorer | None = None,
        hnsw_threshold: int | None = None,
        _store: Store | None = None,
    ):
        self.namespace = validate_namespace(namespace)
        if _store is not None:
            with _registry_lock:
                _store.refs += 1
            self._store = _store
        else:
            self._store = _acquire(
                url, embedder, schema, Path(index_dir) if index_dir else None, scorer, hnsw_threshold
            )
        self._closed = False

    @property
    def store(self) -> Store:
        if self._closed:
            raise MemoryStoreError("this memory is closed")
        return self._store

    @property
    def embedder(self) -> Embedder:
        return self._store.embedder

    @property
    def url(self) -> str:
        return self._store.url

    def _release(self) -> None:
        if not self._closed:
            self._closed = True
            _release(self._store)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(namespace={self.namespace!r}, url={self._store.url!r})"


def _drafts(
    text: str, kind: str, payload: dict[str, Any] | None, id: str | None
) -> list[MemoryDraft | MemoryItem]:
    if not isinstance(text, str):
        raise InvalidItemError("memory text must be a string")
    validate_kinds(kind)
    payload = {} if payload is None else _check_payload(payload)
    if id is not None:
        if not isinstance(id, str) or not id:
            raise InvalidItemError("item id must be a non-empty string")
        return [MemoryItem(namespace="-", kind=kind, text=text, payload=payload, id=id)]
    return [MemoryDraft(kind=kind, text=text, payload=payload)]


class AsyncMemory(_Base):
    """Async memory API for one namespace. Blocking work runs in worker threads."""

    async def _run(self, fn, *args, **kwargs):
        return await asyncio.to_thread(partial(fn, *args, **kwargs))

    def with_namespace(self, namespace: str) -> AsyncMemory:
        return AsyncMemory(namespace, _store=self.store)

    async def add(
        self,
        text: str,
        kind: str = "episode",
        payload: dict[str, Any] | None = None,
        id: str | None = None,
        vector: np.ndarray | None = None,
    ) -> MemoryItem:
        drafts = _drafts(text, kind, payload, id)
        return (
            await self.add_many(drafts, vectors=None if vector is None else np.asarray(vector).reshape(1, -1))
        )[0]

    async def add_many(
        self, entries: Sequence[MemoryDraft | MemoryItem], vectors: np.ndarray | None = None
    ) -> list[MemoryItem]:
        return await self._run(_add_many, self.store, self.namespace, entries, vectors)

    async def search(
        self,
        query: str,
        k: int = 5,
        kinds: Iterable[str] | str | None = None,
        filters: dict[str, Any] | None = None,
        min_score: float | None = None,
        mmr_lambda: float | None = None,
        vector: np.ndarray | None = None,
    ) -> list[SearchHit]:
        return await self._run(
            self.store.search, self.namespace, query, k, kinds, filters, min_score, mmr_lambda, vector
        )

    async def get(self, id: str) -> MemoryItem:
        return await self._run(self.store.get, self.namespace, id)

    async def get_many(self, ids: Sequence[str]) -> list[MemoryItem]:
        return await self._run(self.store.get_many, self.namespace, ids)

    async def list(
        self, kinds=None, filters=None, limit: int | None = None, offset: int = 0
    ) -> list[MemoryItem]:
        return await self._run(
            self.store.list_items, self.namespace, validate_kinds(kinds), filters, limit, offset
        )

    async def update(
        self, id: str, text: str | None = None, payload: dict[str, Any] | None = None
    ) -> MemoryItem:
        return await self._run(self.store.update_item, self.namespace, id, text, payload)

    async def delete(self, id: str) -> None:
        await self._run(self.store.delete, self.namespace, [id])

    async def history(self, id: str) -> list[dict[str, Any]]:
        return await self._run(self.store.history, self.namespace, id)

    async def record_usage(
        self, item_ids: Sequence[str], episode_id: str, reward: float, task_id: str | None = None
    ) -> None:
        await self._run(self.store.record_usage, self.namespace, item_ids, episode_id, reward, task_id)

    async def usage_events(self, limit: int | None = None) -> list[UsageEvent]:
        return await self._run(self.store.usage_events, self.namespace, limit)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await self._run(self.store.embed, texts)

    async def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return await self._run(self.store.vectors, self.namespace, ids)

    async def count(self, kinds: Iterable[str] | str | None = None) -> int:
        return await self._run(self.store.count, self.namespace, validate_kinds(kinds))

    async def stats(self) -> MemoryStats:
        return await self._run(self.store.stats, self.namespace)

    async def consolidate(
        self, threshold: float | None = None, budget: int | None = None, dry_run: bool = False
    ) -> ConsolidationReport:
        from agentmem.memory_store.consolidation import consolidate

        return await self._run(consolidate, self.store, self.namespace, threshold, budget, dry_run)

    async def export(self, path: str | Path) -> TransferReport:
        from agentmem.memory_store.transfer import export_jsonl

        return await self._run(export_jsonl, self.store, self.namespace, path)

    async def import_(self, path: str | Path) -> TransferReport:
        from agentmem.memory_store.transfer import import_jsonl

        return await self._run(import_jsonl, self.store, self.namespace, path)

    async def reembed(self, batch_size: int = 256) -> int:
        return await self._run(self.store.reembed, self.namespace, batch_size)

    async def flush(self) -> None:
        """Persist the namespace's index now (it is also saved periodically and on close)."""
        await self._run(self.store.flush, self.namespace)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._release)

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _add_many(store: Store, namespace: str, entries, vectors) -> list[MemoryItem]:
    prepared, explicit = store.prepare(namespace, entries)
    return store.write(namespace, prepared, vectors, explicit_ids=explicit)


class Memory(_Base):
    """Blocking memory API for one namespace: the same core as `AsyncMemory`, called directly."""

    def with_namespace(self, namespace: str) -> Memory:
        return Memory(namespace, _store=self.store)

    def add(
        self,
        text: str,
        kind: str = "episode",
        payload: dict[str, Any] | None = None,
        id: str | None = None,
        vector: np.ndarray | None = None,
    ) -> MemoryItem:
        drafts = _drafts(text, kind, payload, id)
        return self.add_many(drafts, vectors=None if vector is None else np.asarray(vector).reshape(1, -1))[0]

    def add_many(
        self, entries: Sequence[MemoryDraft | MemoryItem], vectors: np.ndarray | None = None
    ) -> list[MemoryItem]:
        return _add_many(self.store, self.namespace, entries, vectors)

    def search(
        self,
        query: str,
        k: int = 5,
        kinds: Iterable[str] | str | None = None,
        filters: dict[str, Any] | None = None,
        min_score: float | None = None,
        mmr_lambda: float | None = None,
        vector: np.ndarray | None = None,
    ) -> list[SearchHit]:
        return self.store.search(self.namespace, query, k, kinds, filters, min_score, mmr_lambda, vector)

    def get(self, id: str) -> MemoryItem:
        return self.store.get(self.namespace, id)

    def get_many(self, ids: Sequence[str]) -> list[MemoryItem]:
        return self.store.get_many(self.namespace, ids)

    def list(self, kinds=None, filters=None, limit: int | None = None, offset: int = 0) -> list[MemoryItem]:
        return self.store.list_items(self.namespace, validate_kinds(kinds), filters, limit, offset)

    def update(self, id: str, text: str | None = None, payload: dict[str, Any] | None = None) -> MemoryItem:
        return self.store.update_item(self.namespace, id, text, payload)

    def delete(self, id: str) -> None:
        self.store.delete(self.namespace, [id])

    def history(self, id: str) -> list[dict[str, Any]]:
        return self.store.history(self.namespace, id)

    def record_usage(
        self, item_ids: Sequence[str], episode_id: str, reward: float, task_id: str | None = None
    ) -> None:
        self.store.record_usage(self.namespace, item_ids, episode_id, reward, task_id)

    def usage_events(self, limit: int | None = None) -> list[UsageEvent]:
        return self.store.usage_events(self.namespace, limit)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.store.embed(texts)

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return self.store.vectors(self.namespace, ids)

    def count(self, kinds: Iterable[str] | str | None = None) -> int:
        return self.store.count(self.namespace, validate_kinds(kinds))

    def stats(self) -> MemoryStats:
        return self.store.stats(self.namespace)

    def consolidate(
        self, threshold: float | None = None, budget: int | None = None, dry_run: bool = False
    ) -> ConsolidationReport:
        from agentmem.memory_store.consolidation import consolidate

        return consolidate(self.store, self.namespace, threshold, budget, dry_run)

    def export(self, path: str | Path) -> TransferReport:
        from agentmem.memory_store.transfer import export_jsonl

        return export_jsonl(self.store, self.namespace, path)

    def import_(self, path: str | Path) -> TransferReport:
        from agentmem.memory_store.transfer import import_jsonl

        return import_jsonl(self.store, self.namespace, path)

    def reembed(self, batch_size: int = 256) -> int:
        return self.store.reembed(self.namespace, batch_size)

    def flush(self) -> None:
        self.store.flush(self.namespace)

    def close(self) -> None:
        self._release()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

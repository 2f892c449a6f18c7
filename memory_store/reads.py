"""Read-only queries against SQL: fetch, list, count, history, usage, stats.

None of these touch the write path or rank anything; they read the rows (the truth) and turn them
into models. Keeping them apart from writes and search makes each easier to audit: nothing in this
module changes the database. It is a mixin that `Store` inherits; `stats` also reports the index,
which is why it builds on `IndexSyncMixin`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select

from agentmem.errors import EmbedderMismatchError, InvalidItemError, ItemNotFoundError
from agentmem.memory_store import db
from agentmem.memory_store.index_sync import IndexSyncMixin
from agentmem.memory_store.models import MemoryStats, UsageEvent
from agentmem.memory_store.rows import (
    _CHUNK,
    _ITEM_COLS,
    _bytes_vec,
    _predicate,
    _ts,
    row_to_item,
    validate_namespace,
)
from agentmem.memory_store.schema import history, items, usage_events
from agentmem.types import MemoryItem


class ReadsMixin(IndexSyncMixin):
    """Queries that only read: items by id, listings, counts, vectors, history, usage, stats."""

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

"""Ranked search: filter, vector top-k from the index, fetch rows from SQL, re-rank, diversify.

Search is the store's read path with the most moving parts (over-fetching for selective filters,
falling back to an exact SQL scan, scoring, MMR, thresholds), so it has a module of its own. It is a
mixin that `Store` inherits; it builds on `IndexSyncMixin` because every search first catches the
namespace's index up with SQL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, bindparam, select

from agentmem.errors import InvalidItemError
from agentmem.memory_store.index_sync import IndexSyncMixin
from agentmem.memory_store.rows import (
    _CHUNK,
    _ITEM_COLS,
    _bytes_vec,
    _predicate,
    row_to_item,
    validate_kinds,
    validate_namespace,
)
from agentmem.memory_store.schema import items
from agentmem.memory_store.scoring import Scorer, mmr_order
from agentmem.types import MemoryItem, SearchHit

BRUTE_FORCE_AFTER = 4096  # over-fetch limit before a filtered search scans SQL exactly

# Hot-path statement built once, so SQLAlchemy reuses its compiled form on every search.
_ROWS_BY_SEQ = select(*_ITEM_COLS, items.c.embedding, items.c.deleted).where(
    items.c.seq.in_(bindparam("seqs", expanding=True))
)


class SearchMixin(IndexSyncMixin):
    """`search` and the candidate fetching behind it."""

    scorer: Scorer  # set by `Store.__init__`

    if TYPE_CHECKING:  # defined on `Store`

        def _embed_query(self, query: str) -> np.ndarray: ...

        def _check_vectors(self, vectors: Any, n: int) -> np.ndarray: ...

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

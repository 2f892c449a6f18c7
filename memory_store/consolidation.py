"""Consolidation: merge near-duplicates (provenance kept) and prune to a budget.

Both steps are idempotent (a second run finds nothing to do) and safe while others read: each
merge group commits in its own short transaction, merged/pruned rows become tombstones, and every
reader's index drops them on its next watermark catch-up.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sqlalchemy import insert, select, update

from agentmem.errors import InvalidItemError
from agentmem.memory_store import db
from agentmem.memory_store.core import Store, _bytes_vec, row_to_item, validate_namespace
from agentmem.memory_store.models import ConsolidationReport, MergeGroup
from agentmem.memory_store.schema import history, items
from agentmem.memory_store.scoring import WeightedScorer

_NEIGHBOURS = 16


def _find_groups(rows: list[Any], threshold: float) -> list[tuple[list[int], float]]:
    """Union-find over pairs of same-kind items with cosine >= threshold; returns row-index groups."""
    import faiss

    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    best: dict[int, float] = {}
    by_kind: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_kind.setdefault(r.kind, []).append(i)
    for members in by_kind.values():
        if len(members) < 2:
            continue
        mat = np.vstack([_bytes_vec(rows[i].embedding) for i in members])
        index = faiss.IndexFlatIP(mat.shape[1])
        index.add(mat)
        sims, nbrs = index.search(mat, min(_NEIGHBOURS, len(members)))
        for a, (srow, nrow) in enumerate(zip(sims, nbrs, strict=True)):
            for sim, b in zip(srow.tolist(), nrow.tolist(), strict=True):
                if b < 0 or b == a or sim < threshold:
                    continue
                ra, rb = find(members[a]), find(members[b])
                if ra != rb:
                    parent[rb] = ra
                root = find(members[a])
                best[root] = max(best.get(root, 0.0), sim)
    groups: dict[int, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(find(i), []).append(i)
    return [(g, best.get(root, 0.0)) for root, g in groups.items() if len(g) > 1]


def _survivor_key(row: Any) -> tuple:
    # Most used first, then best rewarded, then the oldest (its id is the one others may cite).
    return (-row.uses, -row.reward_sum, row.created_at, row.seq)


def consolidate(
    store: Store,
    namespace: str,
    threshold: float | None = None,
    budget: int | None = None,
    dry_run: bool = False,
) -> ConsolidationReport:
    validate_namespace(namespace)
    threshold = store.dedup_threshold if threshold is None else float(threshold)
    if not 0.0 < threshold <= 1.0:
        raise InvalidItemError("the merge threshold must be a cosine in (0, 1]")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
        raise InvalidItemError("budget must be a non-negative integer")
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                items.c.seq,
                items.c.id,
                items.c.kind,
                items.c.embedding,
                items.c.uses,
                items.c.reward_sum,
                items.c.created_at,
                items.c.payload,
            )
            .where(items.c.namespace == namespace, items.c.deleted.is_(False), items.c.embedding.is_not(None))
            .order_by(items.c.seq)
        ).all()
    before = store.count(namespace)
    report = ConsolidationReport(
        namespace=namespace, dry_run=dry_run, threshold=threshold, budget=budget, items_before=before
    )
    for members, sim in _find_groups(rows, threshold):
        group = sorted((rows[i] for i in members), key=_survivor_key)
        survivor, others = group[0], group[1:]
        report.groups.append(MergeGroup(survivor=survivor.id, merged=[o.id for o in others], similarity=sim))
        if not dry_run:
            report.merged += _merge(store, namespace, survivor.id, [o.id for o in others])
        else:
            report.merged += len(others)
    if budget is not None:
        report.pruned_ids = _prune(store, namespace, budget, dry_run)
        report.pruned = len(report.pruned_ids)
    report.items_after = store.count(namespace) if not dry_run else before - report.merged - report.pruned
    return report


def _merge(store: Store, namespace: str, survivor_id: str, other_ids: list[str]) -> int:
    """One group, one transaction: the survivor absorbs usage stats and records where the others went."""

    def tx() -> tuple[list[int], int, int]:
        with db.write_tx(store.engine, namespace, store.scope) as conn:
            live = conn.execute(
                select(items).where(
                    items.c.namespace == namespace,
                    items.c.id.in_([survivor_id, *other_ids]),
                    items.c.deleted.is_(False),
                )
            ).all()
            by_id = {r.id: r for r in live}
            if survivor_id not in by_id:  # someone deleted it meanwhile: leave the group alone
                return [], 0, -1
            merged = [by_id[i] for i in other_ids if i in by_id]
            if not merged:
                return [], 0, -1
            surv = by_id[survivor_id]
            payload = dict(surv.payload or {})
            provenance = list(payload.get("merged_from", []))
            provenance += [m.id for m in merged if m.id not in provenance]
            payload["merged_from"] = provenance
            first = rev = store.touch_rev(conn, namespace)
            now = time.time()
            conn.execute(
                update(items)
                .where(items.c.seq == surv.seq)
                .values(
                    payload=payload,
                    uses=surv.uses + sum(m.uses for m in merged),
                    reward_sum=surv.reward_sum + sum(m.reward_sum for m in merged),
                    reward_count=surv.reward_count + sum(m.reward_count for m in merged),
                    rev=rev,
                    updated_at=now,
                )
            )
            for m in merged:
                rev += 1
                conn.execute(
                    update(items)
                    .where(items.c.seq == m.seq)
                    .values(deleted=True, merged_into=survivor_id, rev=rev, updated_at=now)
                )
            conn.execute(
                insert(history),
                [
                    {
                        "namespace": namespace,
                        "item_id": survivor_id,
                        "event": "merge",
                        "text": surv.text,
                        "payload": payload,
                        "detail": {"absorbed": [m.id for m in merged]},
                        "created_at": now,
                    },
                    *[
                        {
                            "namespace": namespace,
                            "item_id": m.id,
                            "event": "merge",
                            "text": m.text,
                            "payload": m.payload,
                            "detail": {"merged_into": survivor_id},
                            "created_at": now,
                        }
                        for m in merged
                    ],
                ],
            )
            return [surv.seq] + [m.seq for m in merged], first, rev

    seqs, _first, _last = db.with_retry(tx)
    if not seqs:
        return 0
    store.sync_index(namespace)
    return len(seqs) - 1


def _prune(store: Store, namespace: str, budget: int, dry_run: bool) -> list[str]:
    """Tombstone the lowest keep-score items (utility and recency, not similarity) above the budget."""
    live = store.list_items(namespace, newest_first=False)
    excess = len(live) - budget
    if excess <= 0:
        return []
    scorer = store.scorer if isinstance(store.scorer, WeightedScorer) else WeightedScorer()
    now = time.time()
    ranked = sorted(
        live, key=lambda it: (0.5 * scorer.utility(it) + 0.5 * scorer.recency(it, now), it.created_at)
    )
    victims = [it.id for it in ranked[:excess]]
    if not dry_run:
        store.delete(namespace, victims, event="prune")
    return victims


__all__ = ["consolidate", "row_to_item"]

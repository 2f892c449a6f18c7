"""JSONL export/import: one item per line with its vector, so a move between stores needs no re-embedding."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
from sqlalchemy import select

from agentmem.errors import InvalidItemError
from agentmem.memory_store.core import Store, _bytes_vec, row_to_item, validate_namespace
from agentmem.memory_store.models import TransferReport
from agentmem.memory_store.schema import items
from agentmem.types import MemoryItem

FORMAT = "agentmem.memory/1"
_BATCH = 1000


def export_jsonl(store: Store, namespace: str, path: str | Path) -> TransferReport:
    """Write every live item (text, payload, stats, vector) of a namespace; atomic via a temp file."""
    validate_namespace(namespace)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with store.engine.connect() as conn, open(tmp, "w", encoding="utf-8") as fh:
        rows = conn.execute(
            select(items)
            .where(items.c.namespace == namespace, items.c.deleted.is_(False))
            .order_by(items.c.seq)
            .execution_options(yield_per=1000)
        )
        for row in rows:
            record = {
                "format": FORMAT,
                "item": row_to_item(row).model_dump(mode="json"),
                "embedder": row.embedder,
                "dim": row.dim,
                "vector": base64.b64encode(row.embedding).decode() if row.embedding is not None else None,
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return TransferReport(namespace=namespace, path=str(path), items=count)


def _parse(path: Path, store: Store) -> list[tuple[MemoryItem, np.ndarray | None, bool]]:
    """Validate the whole file first: a bad line is a typed error and nothing is written."""
    out: list[tuple[MemoryItem, np.ndarray | None, bool]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if record.get("format") != FORMAT:
                    raise ValueError(f"unknown format {record.get('format')!r}")
                item = MemoryItem.model_validate(record["item"])
                vector = None
                indexed = record.get("vector") is not None
                if (
                    indexed
                    and record.get("embedder") == store.embedder.name
                    and record.get("dim") == store.embedder.dim
                ):
                    vector = _bytes_vec(base64.b64decode(record["vector"])).copy()
                    if vector.shape != (store.embedder.dim,):
                        raise ValueError("vector size does not match its dim")
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidItemError(f"{path}:{lineno}: invalid memory record: {exc}") from exc
            out.append((item, vector, indexed))
    return out


def import_jsonl(store: Store, namespace: str, path: str | Path) -> TransferReport:
    """Upsert the file's items into `namespace` (ids kept), re-embedding only where vectors don't fit."""
    validate_namespace(namespace)
    path = Path(path)
    if not path.is_file():
        raise InvalidItemError(f"no such export file: {path}")
    records = _parse(path, store)
    prepared, _ = store.prepare(namespace, [r[0] for r in records])
    reembedded = 0
    for start in range(0, len(records), _BATCH):
        chunk = records[start : start + _BATCH]
        batch = prepared[start : start + _BATCH]
        mask = [indexed for _, _, indexed in chunk]
        need = [i for i, (_, vec, indexed) in enumerate(chunk) if indexed and vec is None]
        vectors = np.zeros((len(chunk), store.embedder.dim), dtype=np.float32)
        for i, (_, vec, _) in enumerate(chunk):
            if vec is not None:
                vectors[i] = vec
        if need:
            vectors[need] = store.embed([batch[i].text for i in need])
            reembedded += len(need)
        for i, m in enumerate(mask):
            if not m:
                vectors[i, 0] = 1.0  # placeholder for unindexed rows (not stored)
        store.write(namespace, batch, vectors, explicit_ids=True, upsert=True, indexed=mask, event="import")
    return TransferReport(namespace=namespace, path=str(path), items=len(records), reembedded=reembedded)

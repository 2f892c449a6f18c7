"""Row-level helpers shared by every part of the store: limits, columns, conversion, validation.

The store's modules (`core`, `index_sync`, `reads`, `search`, and `consolidation`/`transfer` beside
them) all turn SQL rows into `MemoryItem`s, check namespaces, kinds and payloads the same way, match
payload filters and pack vectors into bytes. Those pure functions (no database, no index, no state)
live here, once, so that every module applies identical rules; `core` re-exports them for callers
that import them from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from agentmem.errors import InvalidItemError
from agentmem.memory_store.schema import items
from agentmem.types import MEMORY_KINDS, MemoryItem

MAX_TEXT_CHARS = 16_000
MAX_ID_CHARS = 255
MAX_NAMESPACE_CHARS = 255
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

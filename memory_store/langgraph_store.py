"""A LangGraph `BaseStore` backed by the memory store, so `graph.compile(store=...)` gets SQL+FAISS memory.

LangGraph namespaces (tuples of labels without periods) map to store namespaces `<root>/<a>.<b>`;
keys map to item ids; values are the item payloads (so filters apply to value fields); the text
at the index `fields` (default: the whole value) is what gets embedded. Semantics follow LangGraph's
InMemoryStore: reads in a batch see the state before its puts, the last put to a key wins,
`value=None` deletes, search scores are cosine similarities, unindexed items fill up a short result.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path, tokenize_path

from agentmem.errors import InvalidItemError, ItemNotFoundError
from agentmem.memory_store.api import Memory
from agentmem.memory_store.core import Store
from agentmem.memory_store.embedders import Embedder
from agentmem.types import MemoryItem


class AgentMemStore(BaseStore):
    """LangGraph long-term memory on agentmem's store (SQLite/PostgreSQL truth, FAISS search)."""

    def __init__(
        self,
        memory: Memory | None = None,
        *,
        url: str | None = None,
        embedder: Embedder | str | None = None,
        schema: str | None = None,
        root: str = "langgraph",
        fields: list[str] | None = None,
        kind: str = "concept",
    ):
        if "/" in root or not root:
            raise InvalidItemError("root must be a non-empty string without '/'")
        self._memory = memory or Memory(root, url=url, embedder=embedder, schema=schema)
        self._owns_memory = memory is None
        self.root = root
        self.kind = kind
        self.fields = fields or ["$"]
        self._paths = [(p, tokenize_path(p) if p != "$" else p) for p in self.fields]

    @property
    def store(self) -> Store:
        return self._memory.store

    def close(self) -> None:
        if self._owns_memory:
            self._memory.close()

    # ------------------------------------------------------------------ namespace mapping
    def _encode(self, namespace: tuple[str, ...]) -> str:
        _check_labels(namespace)
        return f"{self.root}/{'.'.join(namespace)}"

    def _decode(self, name: str) -> tuple[str, ...] | None:
        prefix = f"{self.root}/"
        if not name.startswith(prefix):
            return None
        rest = name[len(prefix) :]
        return tuple(rest.split(".")) if rest else ()

    def _namespaces(self) -> list[tuple[str, ...]]:
        out = []
        for name in self.store.list_namespaces():
            decoded = self._decode(name)
            if decoded:
                out.append(decoded)
        return out

    # ------------------------------------------------------------------ batch
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        results: list[Result] = [None] * len(ops)
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for i, op in enumerate(ops):
            if isinstance(op, GetOp):
                results[i] = self._get(op)
            elif isinstance(op, SearchOp):
                results[i] = self._search(op)
            elif isinstance(op, ListNamespacesOp):
                results[i] = self._list_namespaces(op)
            elif isinstance(op, PutOp):
                _check_labels(op.namespace)
                if not op.namespace:
                    raise InvalidNamespaceError("Namespace cannot be empty.")
                puts[(op.namespace, op.key)] = op  # the last put to a key wins
            else:
                raise ValueError(f"Unknown operation type: {type(op)}")
        self._apply_puts(puts)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    # ------------------------------------------------------------------ ops
    def _to_item(
        self, item: MemoryItem, namespace: tuple[str, ...], score: float | None = None, search=False
    ):
        value = dict(item.payload)
        if search:
            return SearchItem(
                namespace=namespace,
                key=item.id,
                value=value,
                created_at=item.created_at,
                updated_at=item.updated_at,
                score=score,
            )
        return Item(
            value=value,
            key=item.id,
            namespace=namespace,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )

    def _get(self, op: GetOp) -> Item | None:
        try:
            found = self.store.get(self._encode(op.namespace), op.key)
        except ItemNotFoundError:
            return None
        return self._to_item(found, op.namespace)

    def _text_of(self, value: dict[str, Any], index: Any) -> str | None:
        if index is False:
            return None
        paths = self._paths if index is None else [(p, tokenize_path(p) if p != "$" else p) for p in index]
        texts: list[str] = []
        for _, tokens in paths:
            found = [value] if tokens == "$" else get_text_at_path(value, tokens)
            for piece in found:
                texts.append(
                    piece if isinstance(piece, str) else json.dumps(piece, sort_keys=True, default=str)
                )
        text = "\n".join(t for t in texts if t and t.strip())
        return text or None

    def _apply_puts(self, puts: dict[tuple[tuple[str, ...], str], PutOp]) -> None:
        by_ns: dict[str, list[PutOp]] = {}
        for (namespace, _), op in puts.items():
            by_ns.setdefault(self._encode(namespace), []).append(op)
        for name, ops in by_ns.items():
            deletes = [op.key for op in ops if op.value is None]
            if deletes:
                live = {it.id for it in self.store.get_many(name, deletes)}
                if live:
                    self.store.delete(name, [k for k in deletes if k in live])
            writes = [op for op in ops if op.value is not None]
            if not writes:
                continue
            entries, mask = [], []
            now = datetime.now(UTC)
            for op in writes:
                value = dict(op.value)
                text = self._text_of(value, op.index)
                mask.append(text is not None)
                entries.append(
                    MemoryItem(
                        id=op.key,
                        namespace=name,
                        kind=self.kind,
                        text=text or json.dumps(value, sort_keys=True, default=str) or "{}",
                        payload=value,
                        created_at=now,
                        updated_at=now,
                    )
                )
            prepared, _ = self.store.prepare(name, entries)
            self.store.write(name, prepared, None, explicit_ids=True, upsert=True, indexed=mask)

    def _matching_namespaces(self, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        _check_labels(prefix)
        return [ns for ns in self._namespaces() if ns[: len(prefix)] == prefix]

    def _search(self, op: SearchOp) -> list[SearchItem]:
        where = (
            (lambda value: all(_compare(value.get(k), v) for k, v in op.filter.items()))
            if op.filter
            else None
        )
        spaces = self._matching_namespaces(op.namespace_prefix)
        want = op.offset + op.limit
        if op.query:
            scored: list[tuple[float, MemoryItem, tuple[str, ...]]] = []
            for ns in spaces:
                for hit in self.store.search(self._encode(ns), op.query, k=max(want, 1), where=where):
                    scored.append((hit.parts.similarity, hit.item, ns))
            scored.sort(key=lambda t: t[0], reverse=True)
            out = [self._to_item(it, ns, score, search=True) for score, it, ns in scored[op.offset : want]]
            if len(out) < op.limit:  # LangGraph fills a short page with unindexed items (no score)
                for ns in spaces:
                    for it in self.store.list_items(self._encode(ns), where=where, indexed=False):
                        if len(out) >= op.limit:
                            break
                        out.append(self._to_item(it, ns, None, search=True))
            return out
        listed: list[tuple[MemoryItem, tuple[str, ...]]] = []
        for ns in spaces:
            listed += [(it, ns) for it in self.store.list_items(self._encode(ns), where=where, limit=want)]
        listed.sort(key=lambda t: t[0].updated_at, reverse=True)
        return [self._to_item(it, ns, None, search=True) for it, ns in listed[op.offset : want]]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        spaces = self._namespaces()
        if op.match_conditions:
            for condition in op.match_conditions:
                _check_labels(tuple(p for p in condition.path if p != "*"))
            spaces = [ns for ns in spaces if all(_matches(c, ns) for c in op.match_conditions)]
        spaces = sorted({ns[: op.max_depth] for ns in spaces}) if op.max_depth is not None else sorted(spaces)
        return spaces[op.offset : op.offset + op.limit]


def _check_labels(namespace: tuple[str, ...]) -> None:
    for label in namespace:
        if not isinstance(label, str) or not label or "." in label or "\x00" in label or "/" in label:
            raise InvalidNamespaceError(f"Invalid namespace label {label!r} in {namespace}")


def _matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = condition.path
    if len(namespace) < len(path):
        return False
    pairs = (
        zip(namespace, path, strict=False)
        if condition.match_type == "prefix"
        else zip(reversed(namespace), reversed(path), strict=False)
    )
    if condition.match_type not in ("prefix", "suffix"):
        raise ValueError(f"Unsupported match type: {condition.match_type}")
    return all(p == "*" or n == p for n, p in pairs)


def _compare(have: Any, want: Any) -> bool:
    """LangGraph's filter semantics: equality, nested dicts, lists, and $eq/$ne/$gt/$gte/$lt/$lte."""
    if isinstance(want, dict):
        if any(k.startswith("$") for k in want):
            return all(_operator(have, op, v) for op, v in want.items())
        return isinstance(have, dict) and all(_compare(have.get(k), v) for k, v in want.items())
    if isinstance(want, list | tuple):
        return (
            isinstance(have, list | tuple)
            and len(have) == len(want)
            and all(_compare(h, w) for h, w in zip(have, want, strict=True))
        )
    return have == want


def _operator(have: Any, op: str, want: Any) -> bool:
    if op == "$eq":
        return have == want
    if op == "$ne":
        return have != want
    if have is None:
        return False
    try:
        a, b = float(have), float(want)
    except (TypeError, ValueError):
        return False
    if op == "$gt":
        return a > b
    if op == "$gte":
        return a >= b
    if op == "$lt":
        return a < b
    if op == "$lte":
        return a <= b
    raise InvalidItemError(f"unsupported filter operator {op!r}")

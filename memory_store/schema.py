"""SQLAlchemy tables: the truth. FAISS indexes are derived from `memory_items` and rebuildable.

`rev` is a per-namespace change counter bumped by every insert/update/tombstone, assigned under a
per-namespace write lock, so `max(rev)` is a watermark an index can catch up from.
Rows are never hard-deleted (tombstones), so a catch-up always sees deletions.
Timestamps are UTC epoch seconds (portable and cheap on both backends).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

items = Table(
    "memory_items",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("id", String(255), nullable=False),
    Column("namespace", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("embedding", LargeBinary, nullable=True),  # float32 bytes; NULL = not indexed
    Column("embedder", String(128), nullable=True),
    Column("dim", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("uses", Integer, nullable=False, default=0),
    Column("reward_sum", Float, nullable=False, default=0.0),
    Column("reward_count", Integer, nullable=False, default=0),
    Column("truncated", Boolean, nullable=False, default=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("merged_into", String(255), nullable=True),
    Column("rev", BigInteger, nullable=False),
    UniqueConstraint("namespace", "id", name="uq_memory_items_namespace_id"),
    Index("ix_memory_items_namespace_rev", "namespace", "rev", unique=True),
    Index("ix_memory_items_namespace_kind", "namespace", "deleted", "kind"),
)

usage_events = Table(
    "memory_usage_events",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("namespace", String(255), nullable=False),
    Column("item_id", String(255), nullable=False),
    Column("episode_id", String(255), nullable=False),
    Column("task_id", String(255), nullable=True),
    Column("rank", Integer, nullable=False),
    Column("reward", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_memory_usage_namespace_item", "namespace", "item_id"),
)

history = Table(
    "memory_history",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("namespace", String(255), nullable=False),
    Column("item_id", String(255), nullable=False),
    Column("event", String(32), nullable=False),  # add | update | delete | merge | reembed | import
    Column("text", Text, nullable=True),
    Column("payload", JSON, nullable=True),
    Column("detail", JSON, nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_memory_history_namespace_item", "namespace", "item_id"),
)

namespaces = Table(
    "memory_namespaces",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("embedder", String(128), nullable=True),
    Column("dim", Integer, nullable=True),
    Column("created_at", Float, nullable=False),
)

store_meta = Table(
    "memory_store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

"""Initial memory-store schema: items, usage events, history, namespaces, store meta.

Revision ID: 0001_initial
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

SeqType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "memory_items",
        sa.Column("seq", SeqType, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=True),
        sa.Column("embedder", sa.String(128), nullable=True),
        sa.Column("dim", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("last_used_at", sa.Float, nullable=True),
        sa.Column("uses", sa.Integer, nullable=False),
        sa.Column("reward_sum", sa.Float, nullable=False),
        sa.Column("reward_count", sa.Integer, nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("merged_into", sa.String(255), nullable=True),
        sa.Column("rev", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("namespace", "id", name="uq_memory_items_namespace_id"),
    )
    op.create_index("ix_memory_items_namespace_rev", "memory_items", ["namespace", "rev"], unique=True)
    op.create_index("ix_memory_items_namespace_kind", "memory_items", ["namespace", "deleted", "kind"])
    op.create_table(
        "memory_usage_events",
        sa.Column("seq", SeqType, primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("item_id", sa.String(255), nullable=False),
        sa.Column("episode_id", sa.String(255), nullable=False),
        sa.Column("task_id", sa.String(255), nullable=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("reward", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_memory_usage_namespace_item", "memory_usage_events", ["namespace", "item_id"])
    op.create_table(
        "memory_history",
        sa.Column("seq", SeqType, primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("item_id", sa.String(255), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("payload", sa.JSON, nullable=True),
        sa.Column("detail", sa.JSON, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_memory_history_namespace_item", "memory_history", ["namespace", "item_id"])
    op.create_table(
        "memory_namespaces",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("embedder", sa.String(128), nullable=True),
        sa.Column("dim", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "memory_store_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("memory_store_meta", "memory_namespaces", "memory_history", "memory_usage_events"):
        op.drop_table(table)
    op.drop_index("ix_memory_items_namespace_kind", "memory_items")
    op.drop_index("ix_memory_items_namespace_rev", "memory_items")
    op.drop_table("memory_items")

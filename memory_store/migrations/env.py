"""Alembic environment, run programmatically by `memory_store.db.upgrade` (no alembic.ini needed).

The caller passes an open connection (already inside a locked transaction) in `config.attributes`.
"""

from __future__ import annotations

from alembic import context

from agentmem.memory_store.schema import metadata

VERSION_TABLE = "memory_alembic_version"


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("memory_store migrations run programmatically: pass a connection")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():  # pragma: no cover - offline SQL generation is not supported
    raise RuntimeError("offline migrations are not supported for the memory store")
run_migrations_online()

"""Engines, write transactions and migrations for SQLite (WAL) and PostgreSQL.

Writers to one namespace are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped
advisory lock), so the per-namespace `rev` counter is assigned in commit order and can serve as a
watermark for the derived FAISS indexes.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from agentmem.errors import InvalidStoreURLError, MemoryStoreError

T = TypeVar("T")
_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
SUPPORTED = ("sqlite", "postgresql")


def parse_url(url: str) -> URL:
    """Validate a store URL early so a typo is a typed error, not a late driver traceback."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidStoreURLError("the memory store URL is empty")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise InvalidStoreURLError(f"cannot parse memory store URL {url!r}: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise InvalidStoreURLError(f"unsupported memory store backend {backend!r} (use sqlite or postgresql)")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file::memory"):
            raise InvalidStoreURLError("in-memory SQLite cannot be shared by the store's threads; use a file")
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise InvalidStoreURLError(f"unsupported SQLite driver {parsed.drivername!r}")
    if backend == "postgresql" and parsed.drivername not in ("postgresql", "postgresql+psycopg"):
        raise InvalidStoreURLError(f"use postgresql+psycopg:// (psycopg 3), not {parsed.drivername!r}")
    return parsed


def make_engine(url: str, schema: str | None = None) -> Engine:
    """Create an engine with the pragmas/search path the store relies on."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise InvalidStoreURLError("a schema only applies to PostgreSQL")
        path = Path(parsed.database).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed.set(database=str(path)),
            connect_args={"check_same_thread": False, "timeout": 60, "isolation_level": None},
            pool_size=8,
            max_overflow=8,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - exercised through every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # pysqlite's own transaction handling is off (isolation_level=None); we emit BEGIN ourselves,
            # IMMEDIATE for writers so two writers never deadlock upgrading a read lock.
            write = conn.get_execution_options().get("agentmem_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if schema is not None and not _SCHEMA_RE.match(schema):
        raise InvalidStoreURLError(f"invalid PostgreSQL schema name {schema!r}")
    engine = create_engine(parsed, pool_size=8, max_overflow=8, pool_pre_ping=True)
    if schema is not None:

        @event.listens_for(engine, "connect")
        def _search_path(dbapi_conn, _record):  # pragma: no cover - exercised through PG tests
            cur = dbapi_conn.cursor()
            try:
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                dbapi_conn.commit()
            except Exception:  # another process created it at the same instant
                dbapi_conn.rollback()
            cur.execute(f'SET search_path TO "{schema}"')
            dbapi_conn.commit()
            cur.close()

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def lock_key(*parts: str) -> int:
    """A stable signed 64-bit advisory-lock key."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _retryable(exc: BaseException) -> bool:
    if not isinstance(exc, OperationalError | DBAPIError):
        return False
    message = str(getattr(exc, "orig", exc)).lower()
    return any(
        s in message
        for s in ("database is locked", "database is busy", "deadlock detected", "could not serialize")
    )


@contextlib.contextmanager
def write_tx(engine: Engine, namespace: str | None, scope: str = "") -> Iterator[Connection]:
    """A write transaction, serialised per namespace (globally on SQLite)."""
    with engine.connect() as conn:
        conn.execution_options(agentmem_write=True)
        with conn.begin():
            if not is_sqlite(engine) and namespace is not None:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(scope, namespace)})
            yield conn


def with_retry(fn: Callable[[], T], attempts: int = 8) -> T:
    """Retry a whole transaction when SQLite reports a lock (after busy_timeout) or PG a deadlock."""
    for attempt in range(attempts):
        try:
            return fn()
        except (OperationalError, DBAPIError) as exc:
            if not _retryable(exc) or attempt == attempts - 1:
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover


def check_connection(engine: Engine, url: str) -> None:
    """Fail with a typed error when the server cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError) as exc:
        raise MemoryStoreError(f"cannot connect to the memory store at {safe_url(url)}: {exc.orig}") from exc


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid url>"


MIGRATION_LOCK = lock_key("agentmem-memory-migrations")


def upgrade(engine: Engine) -> None:
    """Bring the schema to head (Alembic, env inside the package), serialised across processes."""
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()

    def current() -> str | None:
        with engine.connect() as conn:
            try:
                return conn.execute(text("SELECT version_num FROM memory_alembic_version")).scalar()
            except (OperationalError, DBAPIError):
                return None

    if current() == head:
        return

    def run() -> None:
        with write_tx(engine, None) as conn:
            if not is_sqlite(engine):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    with_retry(run)

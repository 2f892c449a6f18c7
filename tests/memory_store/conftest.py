"""Fixtures for the memory store: real SQLite files and a real PostgreSQL schema per test."""

from __future__ import annotations

import uuid

import pytest

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_available() -> tuple[bool, str]:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=3):
            return True, ""
    except Exception as exc:
        return False, f"cannot connect to {PG_URL}: {exc}"


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def require_service(request, name: str, available: bool, why: str = "") -> None:
    """The shared helper of tests/conftest.py (skip locally, fail under AGENTMEM_REQUIRE_SERVICES=1)."""
    from tests.conftest import require_service as shared_require_service

    shared_require_service(name, available, why)


@pytest.fixture
def pg_backend(request):
    ok, why = postgres_available()
    require_service(request, "PostgreSQL", ok, why)
    schema = f"amtest_{uuid.uuid4().hex[:12]}"
    yield {"url": PG_URL, "schema": schema}
    drop_schema(schema)


@pytest.fixture
def sqlite_backend(tmp_path):
    return {"url": f"sqlite:///{tmp_path / 'memory.db'}"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, tmp_path):
    """Connection kwargs for each real backend (PostgreSQL skips/fails per require_service)."""
    if request.param == "sqlite":
        return {"url": f"sqlite:///{tmp_path / 'memory.db'}"}
    return request.getfixturevalue("pg_backend")


@pytest.fixture
def hash_embedder():
    from agentmem.memory_store import HashEmbedder

    return HashEmbedder(64)

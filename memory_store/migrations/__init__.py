"""Alembic migrations for the memory store."""

"""Shared test configuration: offline model hubs, and service requirements that CI makes mandatory."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def services_required() -> bool:
    """CI sets AGENTMEM_REQUIRE_SERVICES=1: a missing PostgreSQL/Chromium then fails instead of skipping."""
    return os.environ.get("AGENTMEM_REQUIRE_SERVICES") == "1"


def require_service(name: str, available: bool, why: str = "") -> None:
    """Skip (on a user's machine) or fail (in CI) when a real service the test needs is missing."""
    if available:
        return
    message = f"{name} is not available{': ' + why if why else ''}"
    if services_required():
        pytest.fail(f"{message} (AGENTMEM_REQUIRE_SERVICES=1 makes it mandatory)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Keep each test's data/cache dirs private, but share the assembled model cache (expensive)."""
    data = tmp_path_factory.mktemp("agentmem-data")
    monkeypatch.setenv("AGENTMEM_DATA_DIR", str(data))
    from agentmem.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()

"""Shared test configuration: offline model hubs, and service requirements that CI makes mandatory."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

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


BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench_module(name: str) -> ModuleType:
    """A script of bench/ loaded as a module (bench/ is no package: its scripts run standalone)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Keep each test's data/cache dirs private, but share the assembled model cache (expensive)."""
    data = tmp_path_factory.mktemp("agentmem-data")
    monkeypatch.setenv("AGENTMEM_DATA_DIR", str(data))
    from agentmem.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()

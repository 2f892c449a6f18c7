"""A namespace's FAISS index: derived from SQL, persisted with a watermark, rebuildable at any time.

FAISS labels are our own "slots" (positions); `slot_seq` maps a slot to the SQL row's `seq`. An
updated or deleted row's old slot is marked dead and skipped at search time; dead slots are
compacted away once they pile up. Exact inner-product Flat while small, HNSW past a threshold,
a GPU flat index when faiss sees a GPU.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1


_threads_lock = threading.Lock()
_configured = False


def _faiss():
    """faiss, set to one OpenMP thread: single-query searches are ~100x slower when OpenMP threads
    contend for busy cores; bulk builds raise the count temporarily (see `_bulk_threads`)."""
    global _configured
    import faiss

    if not _configured:
        faiss.omp_set_num_threads(1)
        _configured = True
    return faiss


@contextlib.contextmanager
def _bulk_threads(n_vectors: int):
    """Use every core while adding many vectors (HNSW construction), then go back to one thread."""
    if n_vectors < 1000:
        yield
        return
    faiss = _faiss()
    with _threads_lock:
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(1)


_gpu_resources: Any = None


def gpu_available() -> bool:
    """True when faiss was built with GPU support and sees a device (the GPU wheel raises otherwise)."""
    faiss = _faiss()
    try:
        return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    except Exception:  # pragma: no cover - broken CUDA setups
        return False


class VectorIndex:
    """Unit vectors in FAISS, addressed by SQL `seq`; the caller serialises access."""

    def __init__(
        self,
        dim: int,
        hnsw_threshold: int = 20_000,
        *,
        hnsw_m: int = 32,
        ef_construction: int = 64,
        ef_search: int = 96,
        use_gpu: bool | None = None,
    ):
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.use_gpu = gpu_available() if use_gpu is None else use_gpu
        self.watermark = 0
        self.kind = "flat"
        self._slot_seq = np.empty(0, dtype=np.int64)
        self._n_slots = 0
        self._seq_slot: dict[int, int] = {}
        self._dead: set[int] = set()
        self._index = self._new_index("flat")

    # ------------------------------------------------------------------ construction
    def _new_index(self, kind: str):
        faiss = _faiss()
        if self.use_gpu:
            global _gpu_resources
            if _gpu_resources is None:
                _gpu_resources = faiss.StandardGpuResources()
            self.kind = "gpu-flat"
            return faiss.GpuIndexFlatIP(_gpu_resources, self.dim)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
            index.hnsw.efSearch = self.ef_search
            self.kind = "hnsw"
            return index
        self.kind = "flat"
        return faiss.IndexFlatIP(self.dim)

    @property
    def n_live(self) -> int:
        return len(self._seq_slot)

    @property
    def n_dead(self) -> int:
        return len(self._dead)

    def seqs(self) -> set[int]:
        return set(self._seq_slot)

    def __contains__(self, seq: int) -> bool:
        return seq in self._seq_slot

    # ------------------------------------------------------------------ mutation
    def upsert(self, seqs: np.ndarray | list[int], vectors: np.ndarray) -> None:
        seqs = np.asarray(seqs, dtype=np.int64)
        if len(seqs) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(seqs), self.dim)
        for seq in seqs.tolist():
            old = self._seq_slot.pop(seq, None)
            if old is not None:
                self._dead.add(old)
        start = self._n_slots
        self._reserve(start + len(seqs))
        self._slot_seq[start : start + len(seqs)] = seqs
        self._n_slots += len(seqs)
        for offset, seq in enumerate(seqs.tolist()):
            self._seq_slot[seq] = start + offset
        if self.kind == "flat" and self._n_slots >= self.hnsw_threshold and not self.use_gpu:
            self._index.add(vectors)
            self._rebuild("hnsw")
            return
        with _bulk_threads(len(vectors) if self.kind == "hnsw" else 0):
            self._index.add(vectors)
        self._maybe_compact()

    def remove(self, seqs: list[int]) -> None:
        for seq in seqs:
            slot = self._seq_slot.pop(int(seq), None)
            if slot is not None:
                self._dead.add(slot)
        self._maybe_compact()

    def _reserve(self, n: int) -> None:
        if n > len(self._slot_seq):
            grown = np.empty(max(n, 2 * len(self._slot_seq), 1024), dtype=np.int64)
            grown[: self._n_slots] = self._slot_seq[: self._n_slots]
            self._slot_seq = grown

    def _maybe_compact(self) -> None:
        if len(self._dead) > max(1024, self._n_slots // 5):
            self._rebuild(self.kind)

    def _rebuild(self, kind: str) -> None:
        """Re-create the FAISS index from its live vectors (dead slots dropped)."""
        live_slots = np.fromiter(sorted(self._seq_slot.values()), dtype=np.int64, count=len(self._seq_slot))
        vectors = self.reconstruct_slots(live_slots)
        seqs = self._slot_seq[live_slots].copy()
        if kind == "flat" and len(seqs) >= self.hnsw_threshold:
            kind = "hnsw"
        self._index = self._new_index(kind)
        self._slot_seq = np.empty(0, dtype=np.int64)
        self._n_slots = 0
        self._seq_slot = {}
        self._dead = set()
        self._reserve(len(seqs))
        self._slot_seq[: len(seqs)] = seqs
        self._n_slots = len(seqs)
        self._seq_slot = {int(s): i for i, s in enumerate(seqs.tolist())}
        if len(seqs):
            with _bulk_threads(len(seqs) if self.kind == "hnsw" else 0):
                self._index.add(vectors)

    def reconstruct_slots(self, slots: np.ndarray) -> np.ndarray:
        if len(slots) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        all_vecs = self._index.reconstruct_n(0, self._index.ntotal)
        return np.ascontiguousarray(all_vecs[slots])

    def vectors_for(self, seqs: list[int]) -> np.ndarray:
        slots = np.array([self._seq_slot[s] for s in seqs], dtype=np.int64)
        out = np.zeros((len(slots), self.dim), dtype=np.float32)
        for row, slot in enumerate(slots.tolist()):
            out[row] = self._index.reconstruct(int(slot))
        return out

    # ------------------------------------------------------------------ search
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k live seqs and inner products per query; -1 pads missing results."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        n_q = len(queries)
        k = max(1, min(k, self.n_live))
        if self.n_live == 0:
            return np.full((n_q, k), -1, dtype=np.int64), np.zeros((n_q, k), dtype=np.float32)
        fetch = min(self._n_slots, k + len(self._dead))
        if self.kind == "hnsw":
            self._index.hnsw.efSearch = max(self.ef_search, fetch)
        sims, slots = self._index.search(queries, fetch)
        out_seq = np.full((n_q, k), -1, dtype=np.int64)
        out_sim = np.zeros((n_q, k), dtype=np.float32)
        for row in range(n_q):
            col = 0
            for slot, sim in zip(slots[row].tolist(), sims[row].tolist(), strict=True):
                if slot < 0 or slot in self._dead:
                    continue
                out_seq[row, col] = self._slot_seq[slot]
                out_sim[row, col] = sim
                col += 1
                if col == k:
                    break
        return out_seq, out_sim

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path, meta: dict[str, Any]) -> None:
        """Atomically write index + mapping + watermark (tmp file, fsync, rename)."""
        faiss = _faiss()
        index = self._index
        if self.kind == "gpu-flat":
            index = faiss.index_gpu_to_cpu(index)
        blob = faiss.serialize_index(index)
        header = dict(meta)
        header.update(
            format=FORMAT_VERSION,
            dim=self.dim,
            kind=self.kind,
            watermark=int(self.watermark),
            n_slots=int(self._n_slots),
            n_live=self.n_live,
            ntotal=int(index.ntotal),
        )
        buffer = io.BytesIO()
        np.savez(
            buffer,
            index=blob,
            slot_seq=self._slot_seq[: self._n_slots],
            dead=np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)),
            meta=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        with open(tmp, "wb") as fh:
            fh.write(buffer.getbuffer())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, hnsw_threshold: int, use_gpu: bool | None = None) -> tuple[VectorIndex, dict]:
        """Load a saved index; raises (any exception) when the file is missing or corrupt."""
        faiss = _faiss()
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            blob = data["index"]
            slot_seq = data["slot_seq"].astype(np.int64)
            dead = data["dead"].astype(np.int64)
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError("index format changed")
        index = faiss.deserialize_index(blob)
        if (
            index.ntotal != meta["ntotal"]
            or len(slot_seq) != meta["n_slots"]
            or index.ntotal != len(slot_seq)
        ):
            raise ValueError("index file is inconsistent")
        if index.d != meta["dim"]:
            raise ValueError("index dimension mismatch")
        self = cls(int(meta["dim"]), hnsw_threshold, use_gpu=use_gpu)
        if self.use_gpu:
            index = faiss.index_cpu_to_gpu(_gpu_resources or faiss.StandardGpuResources(), 0, index)
        else:
            self.kind = meta["kind"]
            if self.kind == "hnsw":
                index.hnsw.efSearch = self.ef_search
        self._index = index
        self._slot_seq = slot_seq.copy()
        self._n_slots = len(slot_seq)
        self._dead = set(dead.tolist())
        self._seq_slot = {int(s): i for i, s in enumerate(slot_seq.tolist()) if i not in self._dead}
        if len(self._seq_slot) != meta["n_live"]:
            raise ValueError("index mapping is inconsistent")
        self.watermark = int(meta["watermark"])
        return self, meta

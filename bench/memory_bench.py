"""Memory-store benchmark: ingest, search latency and ANN recall on real sentences. Not a test.

    python bench/memory_bench.py --items 10000 --json

Corpus: sentences from the Python documentation sources shipped by the `python3.11-doc` apt package
(falls back to the docstrings of the installed stdlib). Corpus embeddings are cached under
.bench-cache/ so larger runs repeat quickly; end-to-end ingest is measured on a subset.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DOC_DIRS = [Path("/usr/share/doc/python3.11/html/_sources"), Path("/usr/share/doc/python3/html/_sources")]
_MARKUP = re.compile(
    r":[a-z:]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`|``([^`]*)``|`([^`<]*?)(?:\s*<[^>]*>)?`_*|\*\*?|\|"
)
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _clean(line: str) -> str:
    return _MARKUP.sub(
        lambda m: next(g for g in m.groups() if g is not None) if any(m.groups()) else "", line
    )


def _doc_sentences() -> list[str]:
    root = next((d for d in DOC_DIRS if d.is_dir()), None)
    texts: list[str] = []
    if root is not None:
        for path in sorted(root.rglob("*.txt")):
            para: list[str] = []
            for raw in [*path.read_text(errors="ignore").splitlines(), ""]:
                line = raw.strip()
                if not line or line.startswith(("..", ">>>", "...", "=", "-", "*", "+", "|", ":")):
                    if para:
                        texts.append(" ".join(para))
                        para = []
                    continue
                para.append(_clean(line))
    else:  # no docs package: use the stdlib's docstrings
        import pkgutil
        import pydoc

        for mod in pkgutil.iter_modules():
            doc = pydoc.getdoc(pydoc.safeimport(mod.name) or object) if not mod.name.startswith("_") else ""
            texts.append(doc.replace("\n", " "))
    seen: set[str] = set()
    out = []
    for text in texts:
        for sent in _SENT.split(text):
            sent = " ".join(sent.split())
            if 6 <= len(sent.split()) <= 60 and sent not in seen:
                seen.add(sent)
                out.append(sent)
    return out


def corpus(n: int, n_queries: int) -> tuple[list[str], list[str]]:
    sents = _doc_sentences()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(sents))
    sents = [sents[i] for i in order]
    queries = sents[:n_queries]
    pool = sents[n_queries:]
    texts = list(pool[:n])
    i = 0
    while len(texts) < n:  # more items than distinct sentences: join neighbours into new passages
        texts.append(f"{pool[i % len(pool)]} {pool[(i * 7 + 3) % len(pool)]}")
        i += 1
    return texts, queries


def cached_embeddings(texts: list[str], embedder, cache_dir: Path, label: str) -> np.ndarray:
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache_dir / f"{embedder.name}-{label}-{len(texts)}-{digest}.npy"
    if path.exists():
        return np.load(path)
    cache_dir.mkdir(parents=True, exist_ok=True)
    chunks = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), 2048):
        chunks.append(embedder.embed(texts[start : start + 2048]))
        print(
            f"  embedded {start + len(chunks[-1])}/{len(texts)} ({time.perf_counter() - t0:.0f}s)",
            file=sys.stderr,
        )
    vecs = np.vstack(chunks).astype(np.float32)
    np.save(path, vecs)
    return vecs


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--e2e-subset", type=int, default=2000, help="items ingested end to end (embedding included)"
    )
    parser.add_argument(
        "--max-embed",
        type=int,
        default=None,
        help="embed at most this many corpus texts for real; further items are passages of two embedded "
        "sentences whose vector is their normalised sum (on the real-data manifold, unlike random vectors)",
    )
    parser.add_argument("--cache-dir", type=Path, default=Path(".bench-cache"))
    parser.add_argument("--url", default=None, help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from agentmem.config import get_settings
    from agentmem.memory_store import Memory, default_embedder
    from agentmem.types import MemoryDraft

    settings = get_settings()
    embedder = default_embedder()
    n_real = min(args.items, args.max_embed or args.items)
    texts, queries = corpus(n_real, args.queries)
    vectors = cached_embeddings(texts, embedder, args.cache_dir, "corpus")
    if args.items > n_real:
        rng = np.random.default_rng(1)
        pairs = rng.integers(0, n_real, size=(args.items - n_real, 2))
        extra = vectors[pairs[:, 0]] + vectors[pairs[:, 1]]
        extra /= np.linalg.norm(extra, axis=1, keepdims=True)
        texts = texts + [f"{texts[a]} {texts[b]}" for a, b in pairs.tolist()]
        vectors = np.vstack([vectors, extra.astype(np.float32)])
    qvecs = cached_embeddings(queries, embedder, args.cache_dir, "queries")
    tmp = Path(tempfile.mkdtemp(prefix="agentmem-bench-"))
    url = args.url or f"sqlite:///{tmp / 'bench.db'}"
    result: dict = {
        "items": args.items,
        "embedded_items": n_real,
        "queries": len(queries),
        "url": url.split("@")[-1],
    }
    try:
        # 1. end-to-end ingest (embedding included) vs the embedder alone, on the same subset
        subset = texts[: min(args.e2e_subset, len(texts))]
        embedder.embed(subset[:64])  # load + warm up
        t0 = time.perf_counter()
        embedder.embed(subset)
        embed_rate = len(subset) / (time.perf_counter() - t0)
        with Memory("e2e", url=url, embedder=embedder) as mem:
            t0 = time.perf_counter()
            for start in range(0, len(subset), 256):
                mem.add_many([MemoryDraft(kind="episode", text=t) for t in subset[start : start + 256]])
            e2e_rate = len(subset) / (time.perf_counter() - t0)
        result.update(
            embedder_texts_per_s=round(embed_rate, 1),
            ingest_items_per_s=round(e2e_rate, 1),
            ingest_vs_embedder=round(e2e_rate / embed_rate, 3),
            e2e_subset=len(subset),
        )

        # 2. ingest of precomputed vectors (SQL commit + index maintenance, HNSW build included)
        with Memory("bench", url=url, embedder=embedder) as mem:
            row_of: dict[str, int] = {}
            t0 = time.perf_counter()
            for start in range(0, len(texts), 1000):
                added = mem.add_many(
                    [MemoryDraft(kind="episode", text=t) for t in texts[start : start + 1000]],
                    vectors=vectors[start : start + 1000],
                )
                row_of.update({it.id: start + i for i, it in enumerate(added)})
            result["ingest_vectors_per_s"] = round(len(texts) / (time.perf_counter() - t0), 1)
            info = mem.stats().index
            result.update(index_kind=info.kind, index_live=info.live)

            # 3. search with the query vector given: watermark check + FAISS + SQL fetch + rerank
            for q in qvecs[:20]:
                mem.search("warm-up", vector=q, k=10)
            index_ms, recall = [], []
            for q in qvecs:
                t0 = time.perf_counter()
                hits = mem.search("bench", vector=q, k=10)
                index_ms.append((time.perf_counter() - t0) * 1000)
                exact = set(np.argsort(-(vectors @ q))[:10].tolist())
                recall.append(len(exact & {row_of[h.item.id] for h in hits}) / 10)
            # 4. end to end: the query is embedded too (distinct texts, so no query-cache hits)
            e2e_ms = []
            for q in queries:
                t0 = time.perf_counter()
                mem.search(q, k=10)
                e2e_ms.append((time.perf_counter() - t0) * 1000)
            # 5. reopen: load the persisted index + watermark check (no rebuild)
        t0 = time.perf_counter()
        with Memory("bench", url=url, embedder=embedder) as mem:
            mem.search("reopen", vector=qvecs[0], k=10)
        reopen_s = time.perf_counter() - t0
        result.update(
            search_p50_ms_index=round(pct(index_ms, 50), 3),
            search_p95_ms_index=round(pct(index_ms, 95), 3),
            search_p50_ms_e2e=round(pct(e2e_ms, 50), 3),
            search_p95_ms_e2e=round(pct(e2e_ms, 95), 3),
            recall_at_10=round(statistics.fmean(recall), 4),
            reopen_first_search_s=round(reopen_s, 3),
            hnsw_threshold=settings.memory.hnsw_threshold,
            db_mb=round(sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) / 1e6, 1),
            cpu_count=os.cpu_count(),
            torch_threads=settings.torch_threads,
            python=platform.python_version(),
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()

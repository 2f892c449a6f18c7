"""Local document corpus search: chunks of HTML/PDF/Markdown/text files, dense (embedder + FAISS) and
sparse (BM25) retrieval fused with reciprocal-rank fusion.

The index (chunks + vectors) is cached on disk under a key made of the corpus fingerprint (paths,
sizes, mtimes), the chunking parameters and the embedder's name, so a changed corpus or embedder is
re-indexed and an unchanged one loads in a moment.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agentmem.errors import ToolError

CORPUS_SUFFIXES = (".html", ".htm", ".pdf", ".md", ".markdown", ".txt", ".rst")
RRF_K = 60
_TOKEN = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")


@runtime_checkable
class TextEmbedder(Protocol):
    """What corpus search needs from an embedder: a stable name and L2-normalised vectors."""

    name: str

    def embed(self, texts: list[str]) -> Any: ...  # ndarray (n, dim) or an awaitable of one


class CorpusSearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=500)
    k: int = Field(default=5, ge=1, le=20)


class CorpusHit(BaseModel):
    path: str  # relative to its corpus root
    chunk: int
    title: str = ""
    text: str
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None


class CorpusSearchResult(BaseModel):
    query: str
    hits: list[CorpusHit]

    @property
    def text(self) -> str:
        return "\n\n".join(f"[{i}] {h.path} :: {h.title}\n{h.text}" for i, h in enumerate(self.hits, 1))


class Chunk(BaseModel):
    path: str
    chunk: int
    title: str
    text: str


def tokenize(text: str) -> list[str]:
    """BM25 tokens: lower-cased words, keeping dotted names (``math.isqrt``) and their parts."""
    out: list[str] = []
    for tok in _TOKEN.findall(text.lower()):
        out.append(tok)
        if "." in tok:
            out.extend(p for p in tok.split(".") if p)
    return out


def rrf_fuse(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of several ranked id lists -> (id, score) best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, idx in enumerate(ranking):
            scores[idx] = scores.get(idx, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def html_to_text(html: str) -> tuple[str, str]:
    """Readable text and title of an HTML document; keeps the main content block when one is marked."""
    from lxml import html as lxml_html

    try:
        tree = lxml_html.fromstring(html)
    except Exception as exc:  # lxml parser errors
        raise ToolError(f"unparseable HTML: {exc}") from exc
    title = " ".join((tree.findtext(".//title") or "").split())
    for bad in tree.xpath("//script|//style|//noscript|//nav|//footer|//header"):
        bad.drop_tree()
    main = tree.xpath('//*[@role="main"]|//main|//div[contains(concat(" ", @class, " "), " body ")]')
    root = main[0] if main else tree
    blocks: list[str] = []
    for el in root.iter("h1", "h2", "h3", "h4", "p", "li", "dt", "dd", "pre", "td", "th", "caption"):
        # Leaf-ish blocks only, so nested lists/definitions are not repeated.
        if any(child.tag in ("p", "li", "dt", "dd", "pre") for child in el):
            continue
        text = " ".join(el.text_content().split())
        if text:
            blocks.append(text)
    if not blocks:
        blocks = [" ".join(root.text_content().split())]
    return "\n".join(blocks), title


def file_text(path: Path) -> tuple[str, str]:
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return html_to_text(path.read_text(encoding="utf-8", errors="replace"))
    if suffix == ".pdf":
        from pypdf import PdfReader

        reader = PdfReader(str(path))
        return "\n".join((p.extract_text() or "") for p in reader.pages), path.stem
    text = path.read_text(encoding="utf-8", errors="replace")
    first = next((ln.strip("# ").strip() for ln in text.splitlines() if ln.strip()), path.stem)
    return text, first[:120]


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Greedy line-packing into ~`size`-char chunks; the last `overlap` chars carry into the next."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        while len(line) > size:  # a huge line (minified page, PDF blob) is cut hard
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:size])
            line = line[size - overlap :]
        if current and len(current) + 1 + len(line) > size:
            chunks.append(current)
            current = current[-overlap:] + "\n" + line if overlap else line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


class LocalCorpus:
    """A searchable folder (or folders) of documents; build once, cached, then search fast."""

    def __init__(
        self,
        roots: Sequence[Path | str],
        *,
        embedder: TextEmbedder | None = None,
        cache_dir: Path | None = None,
        chunk_chars: int = 800,
        overlap: int = 120,
        batch_size: int = 64,
    ):
        self.roots = [Path(r).resolve() for r in roots]
        for root in self.roots:
            if not root.is_dir():
                raise ToolError(f"corpus folder {root} does not exist")
        self._embedder = embedder
        self.cache_dir = Path(cache_dir) if cache_dir else _default_cache_dir()
        self.chunk_chars, self.overlap, self.batch_size = chunk_chars, overlap, batch_size
        self.chunks: list[Chunk] = []
        self._vectors: Any = None
        self._faiss: Any = None
        self._bm25: Any = None
        self._lock = asyncio.Lock()

    @property
    def embedder(self) -> TextEmbedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def files(self) -> list[tuple[Path, Path]]:
        out = []
        for root in self.roots:
            for p in sorted(root.rglob("*")):
                hidden = any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
                if p.is_file() and p.suffix.lower() in CORPUS_SUFFIXES and not hidden:
                    out.append((root, p))
        if not out:
            raise ToolError(
                f"corpus {', '.join(map(str, self.roots))} holds no {'/'.join(CORPUS_SUFFIXES)} files"
            )
        return out

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(f"v1|{self.chunk_chars}|{self.overlap}|{self.embedder.name}".encode())
        for root, p in self.files():
            st = p.stat()
            h.update(f"{root}|{p.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}".encode())
        return h.hexdigest()[:24]

    @property
    def ready(self) -> bool:
        return self._faiss is not None

    async def ensure_index(self) -> str:
        """Load the cached index for this fingerprint or build (and cache) it; returns the fingerprint."""
        async with self._lock:
            fp = await asyncio.to_thread(self.fingerprint)
            if self.ready and getattr(self, "_fp", None) == fp:
                return fp
            folder = self.cache_dir / f"corpus-{fp}"
            if (folder / "vectors.npy").is_file() and (folder / "chunks.jsonl").is_file():
                await asyncio.to_thread(self._load, folder)
            else:
                await self._build(folder)
            self._fp = fp
            return fp

    def _load(self, folder: Path) -> None:
        import numpy as np

        with (folder / "chunks.jsonl").open(encoding="utf-8") as fh:
            self.chunks = [Chunk.model_validate_json(line) for line in fh if line.strip()]
        self._vectors = np.load(folder / "vectors.npy")
        self._finish_index()

    async def _build(self, folder: Path) -> None:
        import numpy as np

        chunks = await asyncio.to_thread(self._chunk_all)
        if not chunks:
            raise ToolError("corpus produced no text chunks")
        vecs = []
        for start in range(0, len(chunks), self.batch_size):
            batch = [f"{c.title}\n{c.text}" for c in chunks[start : start + self.batch_size]]
            out = await _embed(self.embedder, batch)
            vecs.append(np.asarray(out, dtype="float32"))
        self.chunks, self._vectors = chunks, np.vstack(vecs)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "chunks.jsonl.tmp"
        tmp.write_text("".join(c.model_dump_json() + "\n" for c in chunks), encoding="utf-8")
        np.save(folder / "vectors.tmp.npy", self._vectors)
        (folder / "vectors.tmp.npy").replace(folder / "vectors.npy")
        tmp.replace(folder / "chunks.jsonl")  # written last: its presence marks a complete cache
        (folder / "meta.json").write_text(
            json.dumps(
                {"roots": [str(r) for r in self.roots], "chunks": len(chunks), "embedder": self.embedder.name}
            )
        )
        await asyncio.to_thread(self._finish_index)

    def _chunk_all(self) -> list[Chunk]:
        chunks: list[Chunk] = []
        for root, p in self.files():
            try:
                text, title = file_text(p)
            except ToolError:
                continue  # one broken file must not sink the corpus
            rel = str(p.relative_to(root))
            for i, piece in enumerate(chunk_text(text, self.chunk_chars, self.overlap)):
                chunks.append(Chunk(path=rel, chunk=i, title=title, text=piece))
        return chunks

    def _finish_index(self) -> None:
        import faiss
        import numpy as np
        from rank_bm25 import BM25Okapi

        vecs = np.ascontiguousarray(self._vectors, dtype="float32")
        index = faiss.IndexFlatIP(vecs.shape[1])
        index.add(vecs)
        self._faiss = index
        self._bm25 = BM25Okapi([tokenize(f"{c.title} {c.path} {c.text}") for c in self.chunks])

    async def search(self, args: CorpusSearchArgs) -> CorpusSearchResult:
        await self.ensure_index()
        import numpy as np

        depth = min(len(self.chunks), max(50, args.k * 10))
        qv = await _embed(self.embedder, [args.query])
        qv = np.asarray(qv, dtype="float32").reshape(1, -1)
        _, ids = self._faiss.search(qv, depth)
        dense = [int(i) for i in ids[0] if i >= 0]
        tokens = tokenize(args.query)
        sparse: list[int] = []
        if tokens:
            scores = self._bm25.get_scores(tokens)
            order = np.argsort(-scores)[:depth]
            sparse = [int(i) for i in order if scores[i] > 0]
        fused = rrf_fuse([dense, sparse])[: args.k]
        dpos = {idx: r for r, idx in enumerate(dense, 1)}
        spos = {idx: r for r, idx in enumerate(sparse, 1)}
        hits = [
            CorpusHit(
                path=self.chunks[i].path,
                chunk=self.chunks[i].chunk,
                title=self.chunks[i].title,
                text=self.chunks[i].text,
                score=round(score, 6),
                dense_rank=dpos.get(i),
                bm25_rank=spos.get(i),
            )
            for i, score in fused
        ]
        if not hits:
            raise ToolError(f"corpus search: nothing matches {args.query!r}")
        return CorpusSearchResult(query=args.query, hits=hits)


def _default_cache_dir() -> Path:
    from agentmem.config import get_settings

    return get_settings().cache_dir / "research-corpus"


def default_embedder() -> TextEmbedder:
    """The memory store's configured embedder (same vectors as memory; MiniLM by default)."""
    from agentmem.memory_store.embedders import get_embedder

    return get_embedder()


async def _embed(embedder: TextEmbedder, texts: list[str]) -> Any:
    out = embedder.embed(texts) if inspect.iscoroutinefunction(embedder.embed) else None
    if out is None:
        out = await asyncio.to_thread(embedder.embed, texts)
    if inspect.isawaitable(out):
        out = await out
    return out

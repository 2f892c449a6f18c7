"""The research agent's tools, each typed (pydantic args/result) and failing with ToolError.

Every tool returns a result model; `ToolOutput.text` is the bounded, untrusted-delimited rendering
the agent sees. Heavy/optional packages (ddgs, trafilatura, pandas, pypdf, docx, openpyxl, PIL) are
imported inside the functions that need them.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import os
import wave
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from agentmem.envs.base import quote_untrusted
from agentmem.errors import ToolError

DEFAULT_MAX_CHARS = 4000
USER_AGENT = "agentmem-research/0.1 (+https://github.com/agentmem)"


def bound_text(text: str, max_chars: int) -> tuple[str, bool]:
    """Cut `text` to `max_chars`, saying so at the cut; returns (text, truncated)."""
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars] + f"\n[... truncated, {len(text) - max_chars} more chars]", True


class ToolOutput(BaseModel):
    """What an env step returns for one tool call: rendered text for the prompt plus the raw result."""

    tool: str
    ok: bool = True
    text: str
    truncated: bool = False
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


# --- web search (ddgs) ------------------------------------------------------------------------------
class WebSearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=400)
    max_results: int = Field(default=5, ge=1, le=20)
    region: str = "us-en"

    @field_validator("query")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("query is blank")
        return v


class SearchResultItem(BaseModel):
    title: str
    url: str
    snippet: str = ""


class WebSearchResult(BaseModel):
    query: str
    results: list[SearchResultItem]


def build_search_request(args: WebSearchArgs) -> dict[str, Any]:
    """The keyword arguments passed to `ddgs.DDGS().text` (kept separate so it is testable offline)."""
    return {
        "query": args.query,
        "region": args.region,
        "safesearch": "moderate",
        "max_results": args.max_results,
        "backend": "auto",
    }


def parse_search_results(raw: list[dict[str, Any]], query: str, limit: int) -> WebSearchResult:
    """ddgs result dicts (title/href/body) -> typed results; rows without a URL are dropped, dups merged."""
    items: list[SearchResultItem] = []
    seen: set[str] = set()
    for row in raw:
        if not isinstance(row, dict):
            continue
        url = str(row.get("href") or row.get("url") or "").strip()
        if not url.startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        items.append(
            SearchResultItem(
                title=" ".join(str(row.get("title") or "").split()),
                url=url,
                snippet=" ".join(str(row.get("body") or row.get("snippet") or "").split())[:500],
            )
        )
        if len(items) >= limit:
            break
    return WebSearchResult(query=query, results=items)


async def web_search(args: WebSearchArgs) -> WebSearchResult:
    """Live web search through the `ddgs` metasearch package."""
    try:
        from ddgs import DDGS
    except ImportError as exc:  # pragma: no cover - the research extra is missing
        raise ToolError("web_search needs the `ddgs` package (pip install 'agentmem[research]')") from exc
    request = build_search_request(args)

    def _run() -> list[dict[str, Any]]:
        return DDGS(timeout=15).text(**request)

    try:
        raw = await asyncio.to_thread(_run)
    except Exception as exc:  # ddgs raises its own family (rate limits, timeouts, no results)
        raise ToolError(f"web_search failed for {args.query!r}: {type(exc).__name__}: {exc}") from exc
    result = parse_search_results(raw, args.query, args.max_results)
    if not result.results:
        raise ToolError(f"web_search: no results for {args.query!r}")
    return result


def render_search(result: WebSearchResult) -> str:
    lines = [f"{i}. {r.title}\n   {r.url}\n   {r.snippet}" for i, r in enumerate(result.results, 1)]
    return "\n".join(lines)


# --- fetch a URL ------------------------------------------------------------------------------------
class FetchArgs(BaseModel):
    url: str = Field(min_length=8, max_length=2000)
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=200, le=50_000)

    @field_validator("url")
    @classmethod
    def _http_only(cls, v: str) -> str:
        v = v.strip()
        if not v.startswith(("http://", "https://")):
            raise ValueError("only http(s) URLs can be fetched")
        return v


class FetchResult(BaseModel):
    url: str
    status: int
    content_type: str
    title: str = ""
    text: str


def extract_main_text(html: str, url: str | None = None) -> tuple[str, str]:
    """Main text (boilerplate removed) and title of an HTML page, via trafilatura."""
    import trafilatura

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True, favor_recall=True)
    title = ""
    meta = trafilatura.extract_metadata(html)
    if meta is not None and meta.title:
        title = meta.title
    if not text:
        # Tiny pages (a table, a few lines) defeat boilerplate detection: fall back to all text.
        from lxml import html as lxml_html

        try:
            tree = lxml_html.fromstring(html)
            for bad in tree.xpath("//script|//style|//noscript"):
                bad.drop_tree()
            text = " ".join(tree.text_content().split())
        except Exception:  # lxml raises several parser errors on junk
            text = ""
    return (text or "").strip(), title


async def fetch_url(args: FetchArgs, *, timeout_s: float = 20.0, max_bytes: int = 5_000_000) -> FetchResult:
    """GET a URL and extract its readable text (HTML main text, plain text, JSON, PDF)."""
    import httpx

    try:
        async with httpx.AsyncClient(
            follow_redirects=True, timeout=timeout_s, headers={"User-Agent": USER_AGENT}
        ) as client:
            resp = await client.get(args.url)
    except httpx.HTTPError as exc:
        raise ToolError(f"fetch {args.url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code >= 400:
        raise ToolError(f"fetch {args.url}: HTTP {resp.status_code}")
    body = resp.content[:max_bytes]
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    title = ""
    if ctype in ("text/html", "application/xhtml+xml") or (not ctype and body.lstrip()[:1] == b"<"):
        text, title = extract_main_text(resp.text, url=str(resp.url))
    elif ctype == "application/pdf":
        text = await asyncio.to_thread(_pdf_text_from_bytes, body)
    elif ctype.startswith("text/") or ctype in ("application/json", "application/xml"):
        text = body.decode(resp.encoding or "utf-8", errors="replace")
    else:
        raise ToolError(f"fetch {args.url}: unsupported content type {ctype or 'unknown'!r}")
    if not text.strip():
        raise ToolError(f"fetch {args.url}: no readable text extracted")
    return FetchResult(url=str(resp.url), status=resp.status_code, content_type=ctype, title=title, text=text)


def _pdf_text_from_bytes(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        return "\n".join((page.extract_text() or "") for page in reader.pages)
    except Exception as exc:  # pypdf raises many error types on broken files
        raise ToolError(f"PDF could not be parsed: {exc}") from exc


# --- read a local file ------------------------------------------------------------------------------
FileKind = Literal["csv", "xlsx", "json", "pdf", "docx", "text", "html", "image", "audio"]
_EXT_KIND: dict[str, FileKind] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".jsonl": "text",
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "text",
    ".md": "text",
    ".rst": "text",
    ".py": "text",
    ".html": "html",
    ".htm": "html",
    ".xml": "text",
    ".log": "text",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".gif": "image",
    ".bmp": "image",
    ".webp": "image",
    ".wav": "audio",
    ".mp3": "audio",
    ".flac": "audio",
    ".ogg": "audio",
    ".m4a": "audio",
}


class ReadFileArgs(BaseModel):
    path: str = Field(min_length=1)
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=200, le=200_000)
    sheet: str | None = None  # XLSX: one sheet (default: all)


class ReadFileResult(BaseModel):
    path: str
    kind: FileKind
    text: str
    meta: dict[str, Any] = Field(default_factory=dict)


def resolve_path(path: str, roots: list[Path]) -> Path:
    """Resolve `path` (absolute, or relative to one of `roots`) and refuse anything outside the roots."""
    if not roots:
        raise ToolError("read_file: no readable folders are configured for this task")
    candidates = [Path(path)] if Path(path).is_absolute() else [root / path for root in roots]
    for cand in candidates:
        real = cand.resolve()
        if not any(real.is_relative_to(root.resolve()) for root in roots):
            continue
        if real.is_file():
            return real
    if Path(path).is_absolute() and not any(Path(path).resolve().is_relative_to(r.resolve()) for r in roots):
        raise ToolError(f"read_file: {path} is outside the task's readable folders")
    raise ToolError(f"read_file: no such file {path!r} (readable folders: {', '.join(map(str, roots))})")


def read_file(args: ReadFileArgs, roots: list[Path]) -> ReadFileResult:
    """Read a local file as text; images/audio are described by their metadata."""
    path = resolve_path(args.path, roots)
    kind = _EXT_KIND.get(path.suffix.lower())
    if kind is None:
        raise ToolError(f"read_file: unsupported file type {path.suffix or '(none)'} for {path.name}")
    try:
        text, meta = _READERS[kind](path, args)
    except ToolError:
        raise
    except Exception as exc:  # parsers raise a zoo of types; one typed error out
        raise ToolError(
            f"read_file: could not read {path.name} as {kind}: {type(exc).__name__}: {exc}"
        ) from exc
    meta.setdefault("bytes", path.stat().st_size)
    return ReadFileResult(path=str(path), kind=kind, text=text, meta=meta)


def _read_csv(path: Path, args: ReadFileArgs) -> tuple[str, dict[str, Any]]:
    import pandas as pd

    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    df = pd.read_csv(path, sep=sep)
    meta = {"rows": int(df.shape[0]), "columns": [str(c) for c in df.columns]}
    full = df.to_csv(index=False)
    if len(full) <= args.max_chars:
        return f"{df.shape[0]} rows x {df.shape[1]} columns\n{full}", meta
    # Too big to show whole: schema, summary statistics and the first rows (use python for the rest).
    head = df.head(20).to_csv(index=False)
    desc = df.describe(include="all").transpose().to_string(max_colwidth=30)
    return (
        f"{df.shape[0]} rows x {df.shape[1]} columns (too large to show whole; use run_python for exact work)\n"
        f"First 20 rows:\n{head}\nSummary:\n{desc}",
        meta,
    )


def _read_xlsx(path: Path, args: ReadFileArgs) -> tuple[str, dict[str, Any]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    sheets = wb.sheetnames
    if args.sheet is not None and args.sheet not in sheets:
        raise ToolError(f"read_file: {path.name} has no sheet {args.sheet!r} (sheets: {sheets})")
    parts: list[str] = []
    for name in [args.sheet] if args.sheet else sheets:
        ws = wb[name]
        rows = [",".join("" if v is None else str(v) for v in row) for row in ws.iter_rows(values_only=True)]
        parts.append(f"## sheet {name} ({len(rows)} rows)\n" + "\n".join(rows))
    wb.close()
    return "\n".join(parts), {"sheets": sheets}


def _read_json(path: Path, args: ReadFileArgs) -> tuple[str, dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    meta = {"type": type(data).__name__, "length": len(data) if isinstance(data, list | dict) else None}
    return json.dumps(data, indent=1, ensure_ascii=False), meta


def _read_pdf(path: Path, args: ReadFileArgs) -> tuple[str, dict[str, Any]]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    pages = [(p.extract_text() or "") for p in reader.pages]
    text = "\n".join(f"[page {i}]\n{t}" for i, t in enumerate(pages, 1))
    return text, {"pages": len(pages)}


def _read_docx(path: Path, args: ReadFileArgs) -> tuple[str, dict[str, Any]]:
    import docx

    doc = docx.Document(str(path))
    parts = [p.text for p in doc.paragraphs if p.text.strip()]
    for ti, table in enumerate(doc.tables, 1):
        parts.append(f"[table {ti}]")
        parts += [",".join(cell.text.strip() for cell in row.cells) for row in table.rows]
    return "\n".join(parts), {"paragraphs": len(doc.paragraphs), "tables": len(doc.tables)}


def _read_text(path: Path, args: ReadFileArgs) -> tuple[str, dict[str, Any]]:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise ToolError(f"read_file: {path.name} looks binary, not text")
    return raw.decode("utf-8", errors="replace"), {}


def _read_html(path: Path, args: ReadFileArgs) -> tuple[str, dict[str, Any]]:
    text, title = extract_main_text(path.read_text(encoding="utf-8", errors="replace"))
    return text, {"title": title}


def _read_image(path: Path, args: ReadFileArgs) -> tuple[str, dict[str, Any]]:
    from PIL import Image

    with Image.open(path) as img:
        meta: dict[str, Any] = {
            "format": img.format,
            "width": img.width,
            "height": img.height,
            "mode": img.mode,
        }
        exif = {str(k): str(v)[:80] for k, v in (img.getexif() or {}).items()}
        if exif:
            meta["exif"] = exif
    text = (
        f"image {path.name}: {meta['format']} {meta['width']}x{meta['height']} mode {meta['mode']}"
        " (pixel content is not described; no vision model attached)"
    )
    return text, meta


def _read_audio(path: Path, args: ReadFileArgs) -> tuple[str, dict[str, Any]]:
    meta: dict[str, Any] = {"mime": mimetypes.guess_type(path.name)[0] or "audio"}
    if path.suffix.lower() == ".wav":
        with wave.open(str(path), "rb") as w:
            meta.update(
                channels=w.getnchannels(),
                sample_rate=w.getframerate(),
                sample_width=w.getsampwidth(),
                frames=w.getnframes(),
                duration_s=round(w.getnframes() / float(w.getframerate()), 3),
            )
        desc = f"{meta['duration_s']} s, {meta['channels']} channel(s), {meta['sample_rate']} Hz"
    else:
        desc = f"{os.path.getsize(path)} bytes (no decoder for {path.suffix}; duration unknown)"
    return f"audio {path.name}: {desc} (speech is not transcribed)", meta


_READERS = {
    "csv": _read_csv,
    "xlsx": _read_xlsx,
    "json": _read_json,
    "pdf": _read_pdf,
    "docx": _read_docx,
    "text": _read_text,
    "html": _read_html,
    "image": _read_image,
    "audio": _read_audio,
}


# --- run python in the sandbox ----------------------------------------------------------------------
class RunPythonArgs(BaseModel):
    code: str = Field(min_length=1, max_length=20_000)
    timeout_s: float = Field(default=20.0, gt=0, le=120)


class RunPythonResult(BaseModel):
    ok: bool
    stdout: str = ""
    stderr: str = ""
    error: str | None = None


def render(
    tool: str, result: BaseModel, max_chars: int = DEFAULT_MAX_CHARS, source: str | None = None
) -> ToolOutput:
    """Turn a tool result into the bounded, untrusted-delimited text the agent reads."""
    if isinstance(result, WebSearchResult):
        body = render_search(result)
    elif isinstance(result, FetchResult):
        body = f"{result.title}\n{result.text}" if result.title else result.text
    elif isinstance(result, ReadFileResult):
        body = result.text
    elif isinstance(result, RunPythonResult):
        body = result.stdout + (f"\n[stderr]\n{result.stderr}" if result.stderr.strip() else "")
        if result.error:
            body += f"\n[error] {result.error}"
    else:
        body = getattr(result, "text", None) or result.model_dump_json()
    body, cut = bound_text(body, max_chars)
    return ToolOutput(
        tool=tool,
        text=quote_untrusted(body, source=source or tool),
        truncated=cut,
        result=result.model_dump(),
    )

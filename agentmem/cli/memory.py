"""`agentmem memory stats|search|export|import|consolidate|reembed`: inspect and maintain a memory store.

Only typer/stdlib at import time; the store (SQLAlchemy, FAISS, torch) loads inside each command.
Every command prints JSON so scripts can use it; errors exit with code 2 and a one-line message.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

memory_app = typer.Typer(
    help="Inspect and maintain the memory store (SQL truth + FAISS index).", no_args_is_help=True
)

NamespaceOpt = typer.Option("default", "--namespace", "-n", help="Memory namespace (tenant/agent).")
UrlOpt = typer.Option(
    None, "--url", help="SQLAlchemy URL (default: AGENTMEM_MEMORY__URL or the SQLite file)."
)
SchemaOpt = typer.Option(None, "--schema", help="PostgreSQL schema to use.")
EmbedderOpt = typer.Option(
    None, "--embedder", help="Embedder name (default: settings; 'hash-<dim>' for tests)."
)


def _emit(data: Any) -> None:
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@contextmanager
def _memory(namespace: str, url: str | None, schema: str | None, embedder: str | None):
    from agentmem.errors import AgentMemError
    from agentmem.memory_store import Memory

    mem = None
    try:
        mem = Memory(namespace, url=url, embedder=embedder, schema=schema)
        yield mem
    except AgentMemError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        if mem is not None:
            mem.close()


@memory_app.command("stats")
def stats(
    namespace: str = NamespaceOpt,
    url: str | None = UrlOpt,
    schema: str | None = SchemaOpt,
    embedder: str | None = EmbedderOpt,
) -> None:
    """Item counts by kind, usage events, embedder, and the FAISS index's state."""
    with _memory(namespace, url, schema, embedder) as mem:
        _emit(mem.stats())


@memory_app.command("search")
def search(
    query: str = typer.Argument(..., help="Natural-language query."),
    k: int = typer.Option(5, "-k", help="How many hits."),
    kind: list[str] | None = typer.Option(None, "--kind", help="Restrict to kinds (repeatable)."),
    filter_: list[str] | None = typer.Option(
        None, "--filter", help="Payload equality KEY=JSON (repeatable)."
    ),
    min_score: float | None = typer.Option(None, "--min-score"),
    mmr: float | None = typer.Option(None, "--mmr", help="MMR lambda in [0,1] for diverse results."),
    namespace: str = NamespaceOpt,
    url: str | None = UrlOpt,
    schema: str | None = SchemaOpt,
    embedder: str | None = EmbedderOpt,
) -> None:
    """Ranked hits with every score part (similarity, recency, utility)."""
    filters: dict[str, Any] = {}
    for spec in filter_ or []:
        key, sep, raw = spec.partition("=")
        if not sep or not key:
            typer.echo(f"error: --filter wants KEY=VALUE, got {spec!r}", err=True)
            raise typer.Exit(2)
        try:
            filters[key] = json.loads(raw)
        except json.JSONDecodeError:
            filters[key] = raw
    with _memory(namespace, url, schema, embedder) as mem:
        hits = mem.search(
            query, k=k, kinds=kind or None, filters=filters or None, min_score=min_score, mmr_lambda=mmr
        )
        _emit(
            [
                {
                    "id": h.item.id,
                    "kind": h.item.kind,
                    "score": round(h.score, 4),
                    "parts": h.parts.model_dump(),
                    "text": h.item.text,
                    "payload": h.item.payload,
                }
                for h in hits
            ]
        )


@memory_app.command("export")
def export(
    path: Path = typer.Argument(..., help="JSONL file to write."),
    namespace: str = NamespaceOpt,
    url: str | None = UrlOpt,
    schema: str | None = SchemaOpt,
    embedder: str | None = EmbedderOpt,
) -> None:
    """Write every live item (with its vector) as JSONL."""
    with _memory(namespace, url, schema, embedder) as mem:
        _emit(mem.export(path))


@memory_app.command("import")
def import_(
    path: Path = typer.Argument(..., help="JSONL file from `memory export`."),
    namespace: str = NamespaceOpt,
    url: str | None = UrlOpt,
    schema: str | None = SchemaOpt,
    embedder: str | None = EmbedderOpt,
) -> None:
    """Upsert items from JSONL (ids kept; re-embeds only when the embedder differs)."""
    with _memory(namespace, url, schema, embedder) as mem:
        _emit(mem.import_(path))


@memory_app.command("consolidate")
def consolidate(
    threshold: float | None = typer.Option(
        None, "--threshold", help="Cosine for near-duplicates (default: settings)."
    ),
    budget: int | None = typer.Option(None, "--budget", help="Prune to at most this many items."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report without changing anything."),
    namespace: str = NamespaceOpt,
    url: str | None = UrlOpt,
    schema: str | None = SchemaOpt,
    embedder: str | None = EmbedderOpt,
) -> None:
    """Merge near-duplicates (provenance kept) and prune to a budget; idempotent."""
    with _memory(namespace, url, schema, embedder) as mem:
        _emit(mem.consolidate(threshold=threshold, budget=budget, dry_run=dry_run))


@memory_app.command("reembed")
def reembed(
    namespace: str = NamespaceOpt,
    url: str | None = UrlOpt,
    schema: str | None = SchemaOpt,
    embedder: str | None = EmbedderOpt,
    batch_size: int = typer.Option(256, "--batch-size"),
) -> None:
    """Re-embed a namespace with the current embedder (after a model/dimension change)."""
    with _memory(namespace, url, schema, embedder) as mem:
        n = mem.reembed(batch_size=batch_size)
        _emit(
            {"namespace": namespace, "reembedded": n, "embedder": mem.embedder.name, "dim": mem.embedder.dim}
        )


def register(app: typer.Typer) -> None:
    app.add_typer(memory_app, name="memory")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(memory_app())

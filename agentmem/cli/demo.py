"""`agentmem demo`: a real smoke of the embedded model through the SDK (replaced by the ARC job later).

It answers a plain prompt and a schema-constrained one with the local GGUF model, no network.
"""

from __future__ import annotations

import typer


def demo(
    model: str = typer.Option(
        "qwen2.5-coder-1.5b", "--model", "-m", help="Embedded model name or GGUF path."
    ),
) -> None:
    """Ask the embedded model two questions (plain text, then a validated JSON object)."""
    from pydantic import BaseModel, Field

    from agentmem.errors import AgentMemError
    from agentmem.llm import get_llm
    from agentmem.sync import run_sync

    class Answer(BaseModel):
        language: str = Field(description="programming language name")
        hello_world: str = Field(description="a one-line hello world program in that language")

    async def go() -> None:
        llm = get_llm(backend="llamacpp", model=model, max_tokens=128)
        plain = await llm.chat(
            [{"role": "user", "content": "In one sentence: what is a memory-augmented agent?"}]
        )
        typer.echo(f"plain answer: {plain.text.strip()}")
        typer.echo(
            f"  ({plain.usage.prompt_tokens}+{plain.usage.completion_tokens} tokens, {plain.latency_s:.2f}s)"
        )
        structured = await llm.chat(
            [{"role": "user", "content": "Pick Python. Give its name and a one-line hello world program."}],
            schema=Answer,
        )
        typer.echo(f"structured answer: {structured.parsed.model_dump_json()}")
        typer.echo(f"  (schema-valid after {structured.attempts} attempt(s), {structured.latency_s:.2f}s)")

    try:
        run_sync(go())
    except AgentMemError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)

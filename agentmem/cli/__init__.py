"""The `agentmem` command. Each sub-module registers its commands; heavy imports stay inside them."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="agentmem",
    help="Memory-augmented LLM agents: run, evaluate, serve models, inspect memory.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

eval_app = typer.Typer(help="Evaluate agents on benchmarks with memory on/off/frozen.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

# Each module exposes `register(app)`. Keep top-level imports in them light (typer/stdlib only).
COMMAND_MODULES = [
    "agentmem.cli.llm_commands",  # chat, models, serve
    "agentmem.cli.doctor",
    "agentmem.cli.memory",  # memory stats|search|export|import|consolidate|reembed
    "agentmem.cli.eval_research",  # eval gaia, eval research
    "agentmem.cli.eval_arc",  # agentmem eval arc
    "agentmem.cli.eval_web",  # agentmem eval miniwob, agentmem eval webvoyager
    "agentmem.cli.demo",  # the ARC learning demo (make demo)
]


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_all()


def main() -> None:
    app()

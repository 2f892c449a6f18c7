"""What the eval CLI commands share: config errors as usage errors, run errors as one red line, the table.

Only typer/stdlib at module top level (`agentmem --help` stays fast); rich and the eval code load inside.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import typer

T = TypeVar("T")


def make_config(cls: type[T], **kw: Any) -> T:
    """Build a pydantic run config; a rejected option value is a usage error, not a traceback."""
    try:
        return cls(**kw)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def run_eval(coro: Coroutine[Any, Any, T], *, exit_code: int = 2) -> T:
    """Run an eval coroutine to completion; an AgentMemError becomes a red one-liner and `exit_code`."""
    from agentmem.errors import AgentMemError
    from agentmem.sync import run_sync

    try:
        return run_sync(coro)
    except AgentMemError as exc:
        typer.secho(f"error: {type(exc).__name__}: {exc}", fg="red", err=True)
        raise typer.Exit(exit_code) from exc


def print_sessions(summary: dict) -> None:
    """The per-session table: solved, newly solved (never solved earlier), rate."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary.get('benchmark', 'arc')} by session")
    for col in ("session", "tasks", "solved", "newly solved", "rate"):
        table.add_column(col, justify="right")
    for s in summary.get("sessions", []):
        table.add_row(
            str(s["session"]), str(s["n"]), str(s["solved"]), str(s["newly_solved"]), f"{s['rate']:.1%}"
        )
    Console().print(table)
    if not summary.get("sessions"):
        typer.echo(json.dumps(summary, indent=2, default=str))


def print_summary(summary: dict, out: Path) -> None:
    """The per-session table, then where the report is."""
    print_sessions(summary)
    typer.echo(f"report: {Path(out) / 'report.html'}")

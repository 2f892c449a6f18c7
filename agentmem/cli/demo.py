"""`agentmem demo`: the ARC learning demo on a CPU, with the embedded model and memory on.

Two sessions over a slice of ARC-AGI-1 training tasks with the hybrid solver: the embedded model
sketches which DSL families a task needs, the program search fills them in, verified programs become
concepts in memory, and session 2 runs with what session 1 learned. Prints the per-session table
(solved, newly solved, rate, mean time) and where the report is.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer


def demo(
    tasks: int = typer.Option(20, help="how many ARC-AGI-1 training tasks (first N by id)"),
    sessions: int = typer.Option(2, help="sessions; each later one recalls what earlier ones verified"),
    budget_s: float = typer.Option(8.0, help="solve budget per task, seconds"),
    solver: str = typer.Option("hybrid", help="hybrid (model sketch + search) | search | llm"),
    model: str = typer.Option("qwen2.5-coder-0.5b", "--model", "-m", help="embedded model name or GGUF path"),
    out: Path = typer.Option(None, help="output folder (default: runs/demo-<timestamp>)"),
) -> None:
    """Run the ARC learning demo and print the per-session table."""
    from agentmem.cli._common import print_sessions, run_eval
    from agentmem.eval.arc import ArcEvalConfig, run_arc_eval

    out = out or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    cfg = ArcEvalConfig(
        version="arcagi1",
        split="training",
        limit=tasks,
        solver=solver,  # type: ignore[arg-type]
        memory="on",
        sessions=sessions,
        budget_s=budget_s,
        max_depth=3,
        concurrency=1,
        out=out,
        backend="llamacpp",
        model=model,
        llm_rounds=1,  # sketch + search; no slow whole-grid code-writing round on a CPU
    )
    typer.echo(
        f"ARC learning demo: {tasks} ARC-AGI-1 training tasks x {sessions} sessions, solver={solver}, "
        f"model={model}, memory on, {budget_s:g}s per task -> {out}"
    )
    started = time.monotonic()
    summary = run_eval(run_arc_eval(cfg), exit_code=1)
    print_sessions(summary)
    for s in summary.get("sessions", []):
        typer.echo(f"session {s['session']}: mean time per task {s.get('mean_time_s', 0.0):.1f}s")
    typer.echo(f"done in {time.monotonic() - started:.0f}s")
    typer.echo(f"report: {out / 'report.html'}  (results.jsonl, summary.json, learning_curve.png beside it)")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)

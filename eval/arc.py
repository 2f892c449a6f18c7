"""`agentmem eval arc`: the ARC solver over sessions, with memory on/off/frozen, scored by pass@2.

The protocol keeps labels out of the learning loop: tasks are split into the agent-visible Task (test
outputs stripped) and ArcLabels held here; an episode runs to its end (memory written from the
train-pair verifier only), and only then are its attempts scored against the labels. That score is a
"label" outcome recorded in results.jsonl, never written to memory.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentmem.envs.arc import ArcLabels, ArcTaskData, load_arc_tasks, score_attempts, split_labels
from agentmem.errors import ConfigError
from agentmem.eval.harness import (
    ResultRow,
    episode_row,
    make_llm,
    open_memory,
    run_sessions,
    write_run_outputs,
)
from agentmem.types import Outcome, Task

ARC_PALETTE = [
    "#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00", "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF", "#870C25",
]  # fmt: skip


class ArcEvalConfig(BaseModel):
    version: Literal["arcagi1", "arcagi2"] = "arcagi1"
    split: Literal["training", "evaluation"] = "training"
    folder: Path | None = None
    limit: int | None = Field(None, ge=1)
    ids: list[str] | None = None
    solver: Literal["llm", "search", "hybrid"] = "search"
    memory: Literal["on", "off", "frozen"] = "on"
    memory_db: Path | None = None  # default: <out>/memory.db
    sessions: int = Field(1, ge=1)
    budget_s: float = Field(20.0, gt=0)
    max_depth: int = Field(3, ge=1, le=5)
    budget_candidates: int | None = Field(
        None, gt=0, description="programs evaluated per task (deterministic budget; budget_s stays a cap)"
    )
    concurrency: int = Field(1, ge=1)
    seed: int = 0
    out: Path = Path("runs/arc")
    backend: str | None = None
    model: str | None = None
    llm_rounds: int = Field(3, ge=1)
    recall_k: int = Field(8, ge=1)
    progress: bool = True


def _loop_config(cfg: ArcEvalConfig) -> Any:
    from agentmem.loop import LoopConfig

    return LoopConfig(
        max_steps=1 if cfg.solver == "search" else cfg.llm_rounds,
        coach_every=0,
        coach_on_signals=cfg.solver != "search",
        memory_mode=cfg.memory,
        recall_k=cfg.recall_k,
        max_advice_items=cfg.recall_k,
        advice_threshold=0.0,  # the solver weighs every retrieved concept by its score itself
        coach_judge="threshold",
        condense="llm" if cfg.solver == "llm" else "fallback",
        # The search solver steers by verified programs only; failure insights outnumber concepts in a
        # grown memory and would take every recall slot (k=8) from them. The model modes read both.
        recall_kinds=["concept"] if cfg.solver == "search" else None,
    )


async def run_arc_eval(cfg: ArcEvalConfig) -> dict[str, Any]:
    """Run the configured ARC evaluation; write results/summary/plot/report into `cfg.out`."""
    from agentmem.agents.arc_solver import ArcSolver, ProgramLibrary, make_executor
    from agentmem.envs.arc import ArcEnv
    from agentmem.loop import run_episode

    data = load_arc_tasks(
        version=cfg.version, split=cfg.split, folder=cfg.folder, ids=cfg.ids, limit=cfg.limit
    )
    tasks: list[Task] = []
    labels: dict[str, ArcLabels] = {}
    by_id: dict[str, ArcTaskData] = {}
    for d in data:
        task, lab = split_labels(d)
        if lab is None:
            raise ConfigError(f"task {d.id} has no test outputs to score against")
        tasks.append(task)
        labels[d.id] = lab
        by_id[d.id] = d
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    llm = make_llm(cfg.backend, cfg.model, seed=cfg.seed)
    memory = await open_memory(cfg.memory, Path(cfg.memory_db) if cfg.memory_db else out / "memory.db", "arc")
    executor = make_executor(cfg.concurrency) if cfg.solver in ("search", "hybrid") else None
    solver = ArcSolver(
        cfg.solver,
        budget_s=cfg.budget_s,
        max_depth=cfg.max_depth,
        budget_candidates=cfg.budget_candidates,
        executor=executor,
    )
    loop_cfg = _loop_config(cfg)

    async def before_session(session: int) -> None:
        if memory is not None:
            solver.library = await ProgramLibrary.from_memory(memory)

    async def run_task(task: Task, session: int) -> ResultRow:
        started = time.monotonic()
        env = ArcEnv(max_attempts=loop_cfg.max_steps)
        try:
            traj = await run_episode(task, solver, env, llm=llm, memory=memory, config=loop_cfg)
        finally:
            await env.close()
        # Scoring against the labels happens only now, after the episode (and its memory writes) ended.
        answer = traj.answer if isinstance(traj.answer, dict) else {}
        attempts = answer.get("attempts") or []
        score = score_attempts(attempts, labels[task.id])
        label_outcome = Outcome(success=score.solved, score=score.score, source="label")
        verified = answer.get("verified") or []
        first = verified[0] if verified else (answer.get("best") or {})
        return await episode_row(
            "arc",
            session,
            task.id,
            traj,
            started=started,
            memory=memory,
            solved=score.solved,
            score=score.score,
            attempts=len(attempts),
            level=cfg.split,
            details={
                "verified_on_train": bool(traj.outcome.success),
                "verifier": traj.outcome.model_dump(),
                "label": label_outcome.model_dump(),
                "per_test": score.per_test,
                "program": first.get("steps"),
                "description": first.get("description", ""),
                "origin": first.get("origin", ""),
                "predictions": attempts,
                "search": next((s.thought for s in traj.steps if s.thought.startswith("search:")), None),
            },
        )

    try:
        rows = await run_sessions(
            tasks,
            sessions=cfg.sessions,
            out_dir=out,
            run_task=run_task,
            concurrency=cfg.concurrency,
            before_session=before_session,
            description=f"arc {cfg.version}/{cfg.split} ({cfg.solver}, memory {cfg.memory})",
            progress=cfg.progress,
        )
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
        if memory is not None:
            await memory.aclose()
    return write_run_outputs(
        out,
        benchmark="arc",
        cfg=cfg,
        llm=llm,
        tasks=tasks,
        rows=rows,
        extra_html=lambda run_rows: render_examples(run_rows, by_id),
    )


def _grid_html(grid: list[list[int]] | None, cell: int = 10) -> str:
    if not grid:
        return "<i>none</i>"
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td style="width:{cell}px;height:{cell}px;background:{ARC_PALETTE[v % 10]}"></td>' for v in row
        )
        + "</tr>"
        for row in grid
    )
    return f'<table style="border-collapse:collapse;display:inline-table;margin:2px">{rows}</table>'


def render_examples(rows: list[ResultRow], tasks: dict[str, ArcTaskData], per_kind: int = 3) -> str:
    """A few solved and failed tasks as coloured grids: first train pair, test input, prediction, truth."""
    last = max((r.session for r in rows), default=0)
    final = [r for r in rows if r.session == last]
    picks = [r for r in final if r.solved][:per_kind] + [r for r in final if not r.solved][:per_kind]
    parts = ["<h2>Examples (last session)</h2>"]
    for r in picks:
        t = tasks.get(r.task_id)
        if t is None:
            continue
        preds = r.details.get("predictions") or []
        pred = preds[0][0] if preds and preds[0] else None
        program = " → ".join(r.details.get("program") or []) or "(none)"
        parts.append(
            f"<h3>{html.escape(r.task_id)} — {'solved' if r.solved else 'not solved'}</h3>"
            f"<p>program: <code>{html.escape(program)}</code></p>"
            f"<div>train 1: {_grid_html(t.train[0][0])} → {_grid_html(t.train[0][1])} &nbsp; "
            f"test: {_grid_html(t.test_inputs[0])} → prediction {_grid_html(pred)} "
            f"truth {_grid_html(t.test_outputs[0])}</div>"
        )
    return "\n".join(parts)

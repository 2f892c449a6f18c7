"""`agentmem eval miniwob` and `agentmem eval webvoyager`: the web navigator over sessions (heavy imports inside)."""

from __future__ import annotations

from pathlib import Path

import typer

from agentmem.agents.web_explore import EXPLORE, EXPLORE_DRAWS, EXPLORE_RANK, EXPLORE_STEER
from agentmem.cli._common import make_config, print_summary, run_eval


def register(app: typer.Typer) -> None:
    from agentmem.cli import eval_app

    eval_app.command("miniwob")(eval_miniwob)
    eval_app.command("webvoyager")(eval_webvoyager)


def eval_miniwob(
    tasks: str = typer.Option(
        "all", help="all (the offline suite) | comma list of task names | FILE (one per line)"
    ),
    episodes: int = typer.Option(1, help="instances per task per session (fresh seeds each session)"),
    sessions: int = typer.Option(3, help="sessions; later ones see the memory of earlier ones"),
    memory: str = typer.Option("on", help="on (recall+write) | off | frozen (recall only)"),
    memory_db: Path = typer.Option(None, help="SQLite memory file (default: OUT/memory.db)"),
    concurrency: int = typer.Option(2, help="episodes in parallel (separate browser contexts)"),
    seed: int = typer.Option(0, help="run seed: episode seeds derive from it, the session and the task"),
    out: Path = typer.Option(Path("runs/miniwob"), help="output folder (resumable)"),
    limit: int = typer.Option(None, help="only the first N tasks"),
    max_steps: int = typer.Option(6, help="step cap per episode"),
    coach_every: int = typer.Option(
        0, help="periodic coach review every k steps (0: on failure signals only)"
    ),
    condense: str = typer.Option("fallback", help="llm | fallback (deterministic summaries, no model call)"),
    backend: str = typer.Option(None, help="LLM backend (default from config: llamacpp)"),
    model: str = typer.Option(None, help="LLM model (default from config: qwen2.5-coder-1.5b)"),
    embedder: str = typer.Option(None, help="memory embedder (default from config)"),
    replay: bool = typer.Option(
        True, help="take unambiguous steps of a remembered same-family success without a model call"
    ),
    explore: bool = typer.Option(
        EXPLORE,
        help="resample a step where greedy decoding retraces a remembered failure of a task family"
        " that nothing solved yet",
    ),
    explore_steer: bool = typer.Option(
        EXPLORE_STEER,
        help="tell that resample that the greedy step failed before (measured: no gain over sampling)",
    ),
    explore_draws: int = typer.Option(
        EXPLORE_DRAWS,
        min=1,
        help="redraws of such a step, each leaving out what retraced a failure, while the draw still retraces one",
    ),
    explore_rank: bool = typer.Option(
        EXPLORE_RANK,
        help="redraw by the model's probability of each whole choice (backends that score continuations:"
        " llama.cpp), not by grammar decoding, which turns a left-out element 1 into 10-19 digit by digit",
    ),
    practice: int = typer.Option(
        0,
        min=0,
        help="memory on: before each later session, up to N extra episodes (own seeds, env reward) for"
        " every family failed in the session before; logged to practice.jsonl, not scored",
    ),
) -> None:
    """MiniWoB++ offline with the web navigator; writes results.jsonl, summary.json, learning_curve.png, report.html."""
    from agentmem.eval.miniwob import MiniWoBEvalConfig, run_miniwob_eval

    cfg = make_config(
        MiniWoBEvalConfig,
        tasks=tasks, episodes=episodes, sessions=sessions, memory=memory, memory_db=memory_db,
        concurrency=concurrency, seed=seed, out=out, limit=limit, max_steps=max_steps,
        coach_every=coach_every, condense=condense, backend=backend, model=model, embedder=embedder,
        replay=replay, explore=explore, explore_steer=explore_steer, practice=practice,
        explore_draws=explore_draws, explore_rank=explore_rank,
    )  # fmt: skip
    print_summary(run_eval(run_miniwob_eval(cfg)), out)


def eval_webvoyager(
    data: Path = typer.Option(
        None, help="WebVoyager-format JSONL (web_name, id, ques, web); default: the packaged 643"
    ),
    judge: str = typer.Option("same", help="judge model: same (the agent's) | backend:model | model"),
    judge_base_url: str = typer.Option(None, help="OpenAI-compatible URL for the judge"),
    judge_images: bool = typer.Option(True, help="send the last k screenshots (off: final page text)"),
    judge_k: int = typer.Option(3, help="screenshots the judge sees"),
    sites: str = typer.Option(None, help="comma list of web_name values to keep"),
    limit: int = typer.Option(None, help="only the first N tasks"),
    sessions: int = typer.Option(1),
    memory: str = typer.Option("on", help="on | off | frozen"),
    memory_db: Path = typer.Option(None, help="SQLite memory file (default: OUT/memory.db)"),
    concurrency: int = typer.Option(1),
    seed: int = typer.Option(0),
    out: Path = typer.Option(Path("runs/webvoyager"), help="output folder (resumable)"),
    max_steps: int = typer.Option(15),
    backend: str = typer.Option(None),
    model: str = typer.Option(None),
) -> None:
    """WebVoyager on the live web, scored by a judge model (SUCCESS / NOT SUCCESS) on the last screenshots."""
    from agentmem.eval.webvoyager import WebVoyagerEvalConfig, run_webvoyager_eval

    cfg = make_config(
        WebVoyagerEvalConfig,
        data=data, judge=judge, judge_base_url=judge_base_url, judge_images=judge_images, judge_k=judge_k,
        sites=[s.strip() for s in sites.split(",") if s.strip()] if sites else None, limit=limit,
        sessions=sessions, memory=memory, memory_db=memory_db, concurrency=concurrency, seed=seed, out=out,
        max_steps=max_steps, backend=backend, model=model,
    )  # fmt: skip
    print_summary(run_eval(run_webvoyager_eval(cfg)), out)

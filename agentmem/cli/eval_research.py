"""`agentmem eval gaia` and `agentmem eval research`: the deep-research agent on GAIA-layout questions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

MEMORY_HELP = "on: recall + write; frozen: recall only (no writes); off: no memory"


def _run(**kw: Any) -> None:
    from agentmem.errors import AgentMemError
    from agentmem.eval.research_eval import ResearchRunConfig, run_research_eval
    from agentmem.sync import run_sync

    try:
        cfg = ResearchRunConfig(**kw)
        summary = run_sync(run_research_eval(cfg))
    except AgentMemError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps({"sessions": summary["sessions"], "per_level": summary.get("per_level")}, indent=1))
    typer.echo(f"results in {cfg.out}")


def register(app: typer.Typer) -> None:
    from agentmem.cli import eval_app

    @eval_app.command("gaia")
    def gaia(
        data: Path = typer.Option(..., "--data", help="GAIA folder (holding <split>/metadata.jsonl)"),
        split: str = typer.Option("validation", "--split", help="validation | test"),
        level: list[str] = typer.Option(None, "--level", help="1, 2 or 3 (repeatable; default all)"),
        limit: int | None = typer.Option(None, "--limit"),
        memory: str = typer.Option("on", "--memory", help=MEMORY_HELP),
        memory_db: Path | None = typer.Option(None, "--memory-db", help="SQLite file of the case memory"),
        sessions: int = typer.Option(1, "--sessions"),
        concurrency: int = typer.Option(1, "--concurrency"),
        seed: int = typer.Option(0, "--seed"),
        out: Path = typer.Option(Path("runs/gaia"), "--out"),
        corpus: list[Path] = typer.Option(None, "--corpus", help="local document folder(s) to search"),
        web: bool = typer.Option(True, "--web/--no-web", help="live web search and fetch"),
        max_steps: int = typer.Option(12, "--max-steps"),
        cases_k: int = typer.Option(2, "--cases-k", help="positive and negative cases shown to the planner"),
        verify: str = typer.Option("grounding", "--verify", help="grounding | llm | both"),
        model: str = typer.Option("", "--model", help="override the configured model"),
        case_min_overlap: float | None = typer.Option(
            None, "--case-min-overlap", help="word overlap a past question needs for its case to be shown"
        ),
    ) -> None:
        """Run the deep-research agent on a local copy of GAIA (official quasi-exact-match scoring)."""
        if split not in ("validation", "test"):
            raise typer.BadParameter("--split must be validation or test")
        _run(
            benchmark="gaia", data_dir=data, split=split, levels=level or None, limit=limit, memory=memory,
            memory_db=memory_db, sessions=sessions, concurrency=concurrency, seed=seed, out=out,
            corpus=corpus or [], allow_web=web, max_steps=max_steps, cases_k=cases_k, verify=verify, model=model,
            case_min_overlap=case_min_overlap,
        )  # fmt: skip

    @eval_app.command("research")
    def research(
        suite: str = typer.Option("local", "--suite", help="local: the offline suite shipped with agentmem"),
        split: str = typer.Option("dev", "--split", help="dev | test"),
        level: list[str] = typer.Option(None, "--level"),
        limit: int | None = typer.Option(None, "--limit"),
        task: list[str] = typer.Option(None, "--task", help="only these task ids (repeatable)"),
        memory: str = typer.Option("on", "--memory", help=MEMORY_HELP),
        memory_db: Path | None = typer.Option(None, "--memory-db"),
        sessions: int = typer.Option(1, "--sessions"),
        concurrency: int = typer.Option(1, "--concurrency"),
        seed: int = typer.Option(0, "--seed"),
        out: Path = typer.Option(Path("runs/research"), "--out"),
        max_steps: int = typer.Option(12, "--max-steps"),
        cases_k: int = typer.Option(2, "--cases-k"),
        case_min_overlap: float | None = typer.Option(
            None, "--case-min-overlap", help="word overlap a past question needs for its case to be shown"
        ),
        verify: str = typer.Option("grounding", "--verify", help="grounding | llm | both"),
        model: str = typer.Option("", "--model"),
        learn_from: str = typer.Option(
            "verifier",
            "--learn-from",
            help="verifier: cases marked by self-verification; labels: by the reference (dev split only)",
        ),
        hindsight_retries: int = typer.Option(
            0,
            "--hindsight-retries",
            help="with --learn-from labels: retry a failed question (no worked case of its kind yet) with "
            "the reference as target, up to N times; its case counts only if the calls computed the value",
        ),
    ) -> None:
        """Run the deep-research agent on the offline suite (statsmodels/sklearn data + Python docs)."""
        if suite != "local":
            raise typer.BadParameter("only --suite local exists")
        if split not in ("dev", "test"):
            raise typer.BadParameter("--split must be dev or test")
        from agentmem.errors import DataError
        from agentmem.eval.research_suite import corpus_dir, packaged_suite_dir

        try:
            corpus = [corpus_dir()]
        except DataError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from exc
        _run(
            benchmark="research-local", data_dir=packaged_suite_dir(), split=split, levels=level or None,
            limit=limit, task_ids=task or None, memory=memory, memory_db=memory_db, sessions=sessions,
            concurrency=concurrency, seed=seed, out=out, corpus=corpus, allow_web=False, max_steps=max_steps,
            cases_k=cases_k, verify=verify, model=model, learn_from=learn_from,
            case_min_overlap=case_min_overlap, hindsight_retries=hindsight_retries,
        )  # fmt: skip

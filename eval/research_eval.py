"""Run the deep-research agent on a GAIA-layout question set (real GAIA or the offline suite).

Each question is one loop episode (recall -> plan/execute -> answer -> memorize). Labels stay in
this module: they score the answer after the episode and never reach the agent. They reach memory
only in a training run (`learn_from="labels"`, never on a test split): Memento builds its case bank
from labelled training questions, so a dev-split build may grade its cases against the reference.
Rows record the plan, tool calls, recalled case ids and whether a recalled case came from the very
same question (a re-solve from memory is reported apart from a fresh solve).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentmem.errors import ConfigError
from agentmem.eval.gaia import GaiaQuestion, load_gaia, per_level, question_scorer
from agentmem.eval.harness import ResultRow, ResultsLog, run_sessions, write_outputs
from agentmem.types import Task


class ResearchRunConfig(BaseModel):
    benchmark: str = "gaia"
    data_dir: Path
    split: str
    levels: list[str] | None = None
    limit: int | None = None
    task_ids: list[str] | None = None
    out: Path
    memory: Literal["on", "off", "frozen"] = "on"
    memory_db: Path | None = None
    namespace: str = "research"
    sessions: int = Field(1, ge=1)
    concurrency: int = Field(1, ge=1)
    seed: int = 0
    max_steps: int = Field(12, ge=2)
    cases_k: int = Field(2, ge=0)
    case_threshold: float = -1e9  # policy score a case needs to be shown; default: always the top K
    case_min_overlap: float | None = None  # word overlap with the question a case needs (None: agent's)
    embedder: str | None = None  # memory embedder name (default: the configured one, MiniLM)
    corpus: list[Path] = Field(default_factory=list)
    allow_web: bool = False
    verify: Literal["grounding", "llm", "both"] = "grounding"
    model: str = ""
    # verifier: cases are marked by the agent's self-verification (test-time learning);
    # labels: by the reference answer — a training run on a split that is not evaluated on
    learn_from: Literal["verifier", "labels"] = "verifier"
    # Training runs only: a question the model failed, whose kind has no worked case in memory yet, is
    # retried up to this many times with the reference as its target (hindsight); the retry's case is
    # marked worked only if its calls computed the value. The row's score stays the first try's.
    hindsight_retries: int = Field(0, ge=0, le=3)


def check_learn_from(cfg: ResearchRunConfig) -> None:
    """Labels may teach memory only in a training run: not on a test split, and only when writing."""
    if cfg.learn_from != "labels":
        return
    if cfg.split == "test":
        raise ConfigError("--learn-from labels is for building memory on a training split, never on test")
    if cfg.memory != "on":
        raise ConfigError("--learn-from labels needs --memory on (it only changes what memory is taught)")


def check_hindsight(cfg: ResearchRunConfig) -> None:
    if cfg.hindsight_retries and cfg.learn_from != "labels":
        raise ConfigError(
            "--hindsight-retries shows the reference: a training run only (--learn-from labels)"
        )


def _details(traj: Any, questions_by_case: dict[str, str]) -> dict[str, Any]:
    answer_step = next((s for s in reversed(traj.steps) if (s.action or {}).get("kind") == "answer"), None)
    calls = [
        {"tool": s.action.get("tool"), "args": s.action.get("args"), "error": s.error}
        for s in traj.steps
        if (s.action or {}).get("kind") == "tool"
    ]
    plan = list(dict.fromkeys(s.thought for s in traj.steps if s.thought.startswith("subtask")))
    return {
        "answer": traj.answer,
        "plan": plan,
        "tool_calls": calls,
        "verification": answer_step.thought if answer_step else None,
        "errors": [s.error for s in traj.steps if s.error][-3:],  # why an episode ended without an answer
        "outcome": traj.outcome.model_dump(),
        "usage": traj.usage.model_dump(),
        "stop": traj.error or traj.outcome.detail,
        "recalled_same_question": any(questions_by_case.get(i) == traj.task.id for i in traj.recalled_ids),
    }


async def run_research_eval(cfg: ResearchRunConfig, llm: Any = None) -> dict[str, Any]:
    """Run every question for `cfg.sessions` sessions; write results.jsonl, summary.json, plot, report."""
    from agentmem.agents.deep_research import DeepResearchAgent, DeepResearchConfig
    from agentmem.envs.research import ResearchEnv, ResearchEnvConfig
    from agentmem.envs.research_corpus import LocalCorpus
    from agentmem.loop import LoopConfig, run_episode

    check_learn_from(cfg)
    check_hindsight(cfg)
    questions = load_gaia(cfg.data_dir, cfg.split, levels=cfg.levels)
    if cfg.task_ids:
        questions = [q for q in questions if q.task_id in set(cfg.task_ids)]
    if cfg.limit is not None:
        questions = questions[: cfg.limit]
    if not questions:
        raise ConfigError("no questions selected")
    labels: dict[str, GaiaQuestion] = {q.task_id: q for q in questions}
    tasks: list[Task] = [q.to_task(corpus=bool(cfg.corpus)) for q in questions]

    if llm is None:
        from agentmem.llm import get_llm

        overrides = {"seed": cfg.seed} | ({"model": cfg.model} if cfg.model else {})
        llm = get_llm(**overrides)
    memory = None
    if cfg.memory != "off":
        from agentmem.memory_store import AsyncMemory

        if cfg.memory == "frozen" and (cfg.memory_db is None or not cfg.memory_db.is_file()):
            raise ConfigError("--memory frozen needs an existing --memory-db (build it with --memory on)")
        url = f"sqlite:///{cfg.memory_db}" if cfg.memory_db else None
        memory = AsyncMemory(namespace=cfg.namespace, url=url, embedder=cfg.embedder)
    corpus = LocalCorpus(cfg.corpus) if cfg.corpus else None
    if corpus is not None:
        await corpus.ensure_index()
    overlap = {} if cfg.case_min_overlap is None else {"case_min_overlap": cfg.case_min_overlap}
    agent = DeepResearchAgent(DeepResearchConfig(cases_k=cfg.cases_k, verify=cfg.verify, **overlap))
    loop_cfg = LoopConfig(
        max_steps=cfg.max_steps,
        memory_mode=cfg.memory,
        # Cases only (an episode item repeats its case, and its key steps carried a failed answer into
        # a test run), and twice the shown count: the agent shows only past questions of this kind.
        recall_kinds=["insight"],
        recall_k=max(4, 4 * cfg.cases_k),
        max_advice_items=max(1, 4 * cfg.cases_k),
        advice_threshold=cfg.case_threshold,
        coach_every=0,
        coach_on_signals=False,
        condense="fallback",
        test_time=cfg.learn_from != "labels",
    )
    env_cfg = ResearchEnvConfig(allow_web=cfg.allow_web)

    async def episode(task: Task, hindsight: bool = False) -> Any:
        reference = labels[task.id].final_answer
        grader = None
        if cfg.learn_from == "labels" and reference is not None:
            grader = lambda answer: question_scorer(answer, reference)  # noqa: E731
        env = ResearchEnv(env_cfg, corpus=corpus, grader=grader, grade_needs_computed=hindsight)
        try:
            return await run_episode(task, agent, env, llm=llm, memory=memory, config=loop_cfg)
        finally:
            await env.close()

    async def recalled_payloads(ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for item_id in ids:
            try:
                found[item_id] = (await memory.get(item_id)).payload  # type: ignore[union-attr]
            except KeyError:
                continue
        return found

    async def run_task(task: Task, session: int) -> ResultRow:
        started = time.perf_counter()
        traj = await episode(task)
        q = labels[task.id]
        solved = q.final_answer is not None and question_scorer(traj.answer, q.final_answer)
        recalled = await recalled_payloads(traj.recalled_ids) if memory is not None else {}
        case_tasks = {i: str(p.get("task_id")) for i, p in recalled.items()}
        retries: list[dict[str, Any]] = []
        if (
            cfg.hindsight_retries
            and not solved
            and q.final_answer is not None
            and not _worked_kind_recalled(q.question, recalled, agent.config.case_min_overlap)
        ):
            target = task.model_copy(update={"payload": task.payload | {"training_target": q.final_answer}})
            first_done = time.perf_counter()
            for _ in range(cfg.hindsight_retries):
                retry = await episode(target, hindsight=True)
                retries.append({"answer": retry.answer, "worked": retry.outcome.success is True,
                                "detail": retry.outcome.detail, "steps": len(retry.steps)})  # fmt: skip
                if retry.outcome.success:
                    break
            retries[-1]["time_s"] = round(time.perf_counter() - first_done, 3)  # all retries together
        size = await memory.count() if memory is not None else 0
        return ResultRow(
            benchmark=cfg.benchmark, session=session, task_id=task.id, solved=bool(solved),
            score=1.0 if solved else 0.0, attempts=1, steps=len(traj.steps),
            time_s=round(time.perf_counter() - started, 3), recalled_ids=traj.recalled_ids,
            advice=[a.text for a in traj.advice], memory_size=size, error=traj.error, level=q.level,
            details=_details(traj, case_tasks) | ({"hindsight": retries} if retries else {}),
        )  # fmt: skip

    try:
        rows = await run_sessions(
            tasks, sessions=cfg.sessions, out_dir=cfg.out, run_task=run_task,
            concurrency=cfg.concurrency, description=cfg.benchmark,
        )  # fmt: skip
    finally:
        if memory is not None:
            await memory.aclose()
        if hasattr(llm, "aclose"):
            await llm.aclose()
    rows = ResultsLog(cfg.out / "results.jsonl").load()
    extra = resolve_table(rows)
    summary = write_outputs(
        cfg.out,
        benchmark=cfg.benchmark,
        config=cfg.model_dump(mode="json"),
        rows=rows,
        extra_html=_extra_html(extra),
    )
    summary["per_level"] = {
        str(s): per_level([(r.level or "?", r.solved) for r in rows if r.session == s])
        for s in sorted({r.session for r in rows})
    }
    summary["memory_resolves"] = extra
    tries = [t for r in rows for t in r.details.get("hindsight", [])]
    if tries:
        summary["hindsight"] = {
            "questions": sum(1 for r in rows if r.details.get("hindsight")),
            "retries": len(tries),
            "worked": sum(t["worked"] for t in tries),
        }
    import json

    (cfg.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return summary


def _worked_kind_recalled(question: str, recalled: dict[str, dict[str, Any]], gate: float) -> bool:
    """Did the episode recall a worked case of a question of this kind (the agent's same-kind gate)? A
    hindsight retry is spent only where memory has none yet."""
    from agentmem.agents.deep_research import same_kind

    return any(
        p.get("success") is True and same_kind(question, str(p.get("question") or ""), gate)
        for p in recalled.values()
    )


def resolve_table(rows: list[ResultRow]) -> list[dict[str, Any]]:
    """Per session: solved questions split into fresh solves and solves that recalled their own case."""
    out = []
    for s in sorted({r.session for r in rows}):
        srows = [r for r in rows if r.session == s]
        own = [r for r in srows if r.solved and r.details.get("recalled_same_question")]
        out.append(
            {
                "session": s,
                "n": len(srows),
                "solved": sum(r.solved for r in srows),
                "solved_recalling_own_case": len(own),
                "solved_without_own_case": sum(r.solved for r in srows) - len(own),
            }
        )
    return out


def _extra_html(table: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{t['session']}</td><td>{t['n']}</td><td>{t['solved']}</td>"
        f"<td>{t['solved_without_own_case']}</td><td>{t['solved_recalling_own_case']}</td></tr>"
        for t in table
    )
    return (
        "<h2>Solves with and without the question's own case in memory</h2><table><tr><th>session</th>"
        "<th>n</th><th>solved</th><th>without own case</th><th>recalling own case</th></tr>"
        + rows
        + "</table>"
    )

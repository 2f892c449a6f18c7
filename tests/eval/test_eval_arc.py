"""`agentmem eval arc`: sessions, summary schema, resume after SIGKILL, and no label leakage into memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agentmem.eval.arc import ArcEvalConfig, run_arc_eval

EASY = ["3c9b0459", "68b16354", "6150a2bd"]  # rot180, flipud, rot180 (training split)


def _cfg(tmp_path: Path, **kw) -> ArcEvalConfig:
    base = dict(ids=EASY, solver="search", budget_s=5, max_depth=2, out=tmp_path / "run", progress=False)
    return ArcEvalConfig(**(base | kw))


async def test_sessions_summary_and_outputs(tmp_path: Path) -> None:
    summary = await run_arc_eval(_cfg(tmp_path, sessions=2))
    out = tmp_path / "run"
    assert {"benchmark", "config", "versions", "sessions"} <= set(summary)
    s1, s2 = summary["sessions"]
    assert {"session", "n", "solved", "newly_solved", "rate"} <= set(s1)
    assert s1["n"] == 3 and s1["solved"] == 3 and s1["newly_solved"] == 3
    assert s2["newly_solved"] == 0 and s2["solved"] == 3
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    second = [r for r in rows if r["session"] == 2]
    assert all(r["recalled_ids"] for r in second)  # session 2 recalls what session 1 verified
    assert all(r["memory_size"] > 0 for r in rows)
    assert all(r["details"]["label"]["source"] == "label" for r in rows)
    assert (out / "learning_curve.png").stat().st_size > 0
    report = (out / "report.html").read_text()
    assert "Examples (last session)" in report and "background:#" in report  # grids rendered in colour
    saved = json.loads((out / "summary.json").read_text())
    assert saved["config"]["solver"] == "search" and saved["sessions"] == summary["sessions"]


async def test_memory_never_depends_on_test_outputs(tmp_path: Path, monkeypatch) -> None:
    """Run once with the true labels and once with corrupted ones: memory and verified programs match."""
    import agentmem.eval.arc as arc_eval
    from agentmem.envs import arc as arc_env
    from agentmem.memory_store import AsyncMemory

    honest = await run_arc_eval(_cfg(tmp_path, out=tmp_path / "honest"))
    real_split = arc_env.split_labels

    def corrupted(data):
        task, labels = real_split(data)
        bad = tuple([[(v + 1) % 10 for v in row] for row in grid] for grid in labels.outputs)
        return task, arc_env.ArcLabels(labels.task_id, bad)

    monkeypatch.setattr(arc_eval, "split_labels", corrupted)
    liar = await run_arc_eval(_cfg(tmp_path, out=tmp_path / "liar"))
    assert honest["sessions"][0]["solved"] == 3 and liar["sessions"][0]["solved"] == 0

    async def contents(folder: str) -> list[tuple[str, str]]:
        mem = AsyncMemory(namespace="arc", url=f"sqlite:///{tmp_path / folder / 'memory.db'}")
        try:
            items = await mem.list()
        finally:
            await mem.aclose()
        return sorted((i.kind, json.dumps(i.payload.get("program"))) for i in items)

    assert await contents("honest") == await contents("liar")
    for folder in ("honest", "liar"):
        rows = [json.loads(x) for x in (tmp_path / folder / "results.jsonl").read_text().splitlines()]
        assert all(r["details"]["verified_on_train"] for r in rows)


def test_resume_after_sigkill_loses_no_row(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(["3c9b0459", "68b16354", "6150a2bd", "a416b8f3"]))
    cmd = [
        str(Path(sys.executable).with_name("agentmem")), "eval", "arc", "--ids", str(ids), "--budget-s", "5",
        "--max-depth", "2", "--memory", "off", "--out", str(out),
    ]  # fmt: skip
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    results = out / "results.jsonl"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_text().count("\n") >= 1:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [json.loads(x) for x in results.read_text().splitlines()]
    assert 1 <= len(before) <= 4
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(x) for x in results.read_text().splitlines()]
    keys = [(r["session"], r["task_id"]) for r in rows]
    assert len(keys) == len(set(keys)) == 4
    assert rows[: len(before)] == before  # finished rows were kept, not rerun
    assert "newly solved" in done.stdout and "report:" in done.stdout


def test_search_solver_recalls_concepts_only():
    """Failure insights outnumber verified concepts in a grown memory; search can use programs only."""
    from agentmem.eval.arc import _loop_config

    search_cfg = ArcEvalConfig(solver="search", out=Path("unused"))
    hybrid_cfg = ArcEvalConfig(solver="hybrid", out=Path("unused"))
    assert _loop_config(search_cfg).recall_kinds == ["concept"]
    assert _loop_config(hybrid_cfg).recall_kinds is None

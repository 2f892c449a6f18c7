"""bench/web_compare.py: the off/on comparison a MiniWoB++ measurement is reported with."""

from __future__ import annotations

from pathlib import Path

from agentmem.eval.harness import ResultRow, ResultsLog
from tests.conftest import BENCH, bench_module

_SCRIPT = BENCH / "web_compare.py"


def _compare_module():
    return bench_module("web_compare")


def _write(run: Path, rows: list[tuple[int, str, bool, dict]], code: str | None = None) -> None:
    log = ResultsLog(run / "results.jsonl")
    for session, task, solved, details in rows:
        log.append_sync(
            ResultRow(
                benchmark="miniwob",
                session=session,
                task_id=f"{task}#0",
                solved=solved,
                steps=2,
                details=details,
                code=code,
            )
        )


def test_reuse_bound_and_why_replay_missed_headroom_tasks(tmp_path):
    off, on = tmp_path / "off", tmp_path / "on"
    _write(off, [(1, "a", True, {}), (1, "b", False, {}), (1, "c", True, {}),
                 (2, "a", True, {}), (2, "b", False, {}), (2, "c", True, {})])  # fmt: skip
    _write(on, [
        (1, "a", True, {}), (1, "b", True, {}), (1, "c", False, {}),
        (2, "a", True, {"replayed_steps": 2}),
        (2, "b", False, {"replay_stop": "step 1: element not found or not unique"}),
        (2, "c", False, {"replay_stop": "step 1: no exemplar"}),
    ])  # fmt: skip
    result = _compare_module().compare(off, on)
    second = result["sessions"][1]
    # a and b were solved by the on arm in session 1: its headroom; c, outside it, counts as the off arm did
    assert second["on_solved_before"] == 2 and second["reuse_bound"] == 3
    # only headroom tasks without a replayed step are counted, by the reason with its step number cut off
    assert second["replay_misses"] == {"element not found or not unique": 1}
    assert (second["on"], second["off"], second["on_losses"]) == (1, 2, ["c#0"])
    # steps per success over the one task both arms solved in session 2 (a): 2 steps in each arm
    assert second["steps_per_success_both"] == [2.0, 2.0, 1]


def test_each_session_says_which_commit_each_arms_rows_ran(tmp_path):
    off, on = tmp_path / "off", tmp_path / "on"
    _write(off, [(1, "a", True, {}), (1, "b", False, {})])  # rows from before rows kept their commit
    _write(on, [(1, "a", True, {})], code="abc123")
    _write(on, [(1, "b", True, {})], code="def456+dirty")
    [first] = _compare_module().compare(off, on)["sessions"]
    assert first["code"] == {"off": {"?": 2}, "on": {"abc123": 1, "def456+dirty": 1}}


def test_the_committed_off_baseline_matches_todays_seeds_and_names_its_code():
    """bench/baselines/ stands in for a memory-off arm (OFF_BASELINE): it is only a baseline while its
    episodes are the instances the on arm sees now."""
    from agentmem.eval.miniwob import episode_seed

    baseline = _SCRIPT.parent / "baselines" / "miniwob-off-qwen1.5b-cap4-seed0.jsonl"
    rows = ResultsLog(baseline).load()
    assert {r.session for r in rows} == {1, 2, 3} and len({(r.session, r.task_id) for r in rows}) == len(rows)
    assert len(rows) == 300  # 100 tasks x 3 sessions: a full off arm
    for r in rows:
        assert r.details["seed"] == episode_seed(0, r.session, r.task_id.split("#")[0], 0), r.task_id
        assert r.code and not r.recalled_ids  # memory off recalls nothing

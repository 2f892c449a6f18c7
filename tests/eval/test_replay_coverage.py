"""bench/replay_coverage.py: replay alone, on fresh instances, from a run's frozen memory."""

from __future__ import annotations

import json
from pathlib import Path

from agentmem.agents.web_navigator import WebNavigator
from agentmem.loop import write_episode
from agentmem.types import EpisodeSummary, Outcome, Step, Task, Trajectory
from tests.conftest import bench_module, require_service


def _module():
    return bench_module("replay_coverage")


def _row(family: str, solved: bool, stop: str) -> dict:
    return {"level": family, "solved": solved, "details": {"replay_stop": stop}}


def test_report_counts_instances_solved_and_why_replay_stopped_on_the_rest():
    rows = [
        _row("click-tab-2", True, None),
        _row("click-tab-2", False, "step 2: element not found or not unique"),
        _row("buy-ticket", False, "step 1: exemplar not adaptable to this goal"),
    ]
    out = _module().report(rows)
    assert (out["instances"], out["solved"], out["families"], out["families_all_solved"]) == (3, 1, 2, 0)
    assert out["by_family"]["click-tab-2"] == {
        "n": 2,
        "solved": 1,
        "stops": {"element not found or not unique": 1},
    }
    assert out["stops"] == {"element not found or not unique": 1, "exemplar not adaptable to this goal": 1}


async def test_a_remembered_success_is_replayed_on_fresh_instances_through_the_real_browser(tmp_path: Path):
    """One enter-text success in a memory DB: the probe replays it on new seeds and the env's reward
    says solved; the run's DB is copied, never written; a family without an exemplar is not probed."""
    from agentmem.envs.web import chromium_path
    from agentmem.memory_store import AsyncMemory

    require_service("chromium", chromium_path() is not None, "apt-get install chromium")
    db = tmp_path / "run" / "memory.db"
    db.parent.mkdir()
    goal = 'Enter "Kasie" into the text field and press Submit.'
    past = Trajectory(
        task=Task(id="enter-text#0", env="miniwob", goal=goal, meta={"family": "enter-text"}),
        steps=[
            Step(i=0, action={"action": "type", "id": 1, "text": "Kasie"}, thought='target: textbox ""'),
            Step(i=1, action={"action": "click", "id": 2}, thought='target: button "Submit"'),
        ],
        outcome=Outcome(success=True, score=1.0),
    )
    agent = WebNavigator()
    summary = EpisodeSummary(goal=goal)
    async with AsyncMemory(namespace="miniwob", url=f"sqlite:///{db}") as memory:
        await write_episode(memory, past, summary, agent_name=agent.name, drafts=agent.distil(past, summary))
        failed = Trajectory(
            task=Task(
                id="click-button#0",
                env="miniwob",
                goal="Click on the 'no' button.",
                meta={"family": "click-button"},
            ),
            steps=[Step(i=0, action={"action": "click", "id": 3}, thought='target: button "yes"')],
            outcome=Outcome(success=False, score=-1.0),
        )
        await write_episode(
            memory, failed, summary, agent_name=agent.name, drafts=agent.distil(failed, summary)
        )
        before = await memory.count()
    module = _module()
    copy = module.frozen_copy(db, tmp_path / "probe-copy")
    assert await module.families_with_exemplars(copy) == ["enter-text"]
    out = tmp_path / "probe"
    assert await module.main([str(db), "--seeds", "2", "--concurrency", "1", "--out", str(out)]) == 0
    result = json.loads((out / "coverage.json").read_text())
    assert result["by_family"]["enter-text"] == {"n": 2, "solved": 2, "stops": {}}
    async with AsyncMemory(namespace="miniwob", url=f"sqlite:///{db}") as memory:
        assert await memory.count() == before

"""End to end with the embedded 0.5B model: recall → act → coach → condense → memorize (tiny prompts)."""

from __future__ import annotations

import pytest

from agentmem.llm import get_llm
from agentmem.loop import LoopConfig, run_episode
from tests.agentmem.test_loop_kit import CounterAgent, CounterEnv, counter_task

pytestmark = pytest.mark.model


async def test_real_model_episode_is_recalled_coached_and_stored(tmp_path):
    from agentmem.memory_store import AsyncMemory

    llm = get_llm(backend="llamacpp", model="qwen2.5-coder-0.5b", max_tokens=48, n_ctx=2048)
    memory = AsyncMemory(namespace="model-e2e", url=f"sqlite:///{tmp_path / 'mem.db'}")
    try:
        tip = await memory.add(
            "Counter tasks: send inc until the counter equals the target, then send submit.",
            kind="insight",
            payload={"env": "counter", "success": True},
        )
        cfg = LoopConfig(max_steps=3, coach_every=1, coach_judge="both", advice_threshold=0.0)
        traj = await run_episode(
            counter_task(1, target=1), CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=cfg
        )

        # the model acted through the schema: every step is a valid action or a recorded error
        assert 1 <= len(traj.steps) <= 3
        assert all(
            (s.action is not None and s.action["op"] in {"inc", "dec", "submit"}) or s.error
            for s in traj.steps
        )
        # recall → coach judged with the model (at least the recall judgment and one act call)
        assert traj.usage.calls >= 2 and traj.usage.completion_tokens > 0
        # memorize: the episode, with the real outcome and the condensed summary
        episode = await memory.get(traj.episode_id)
        assert episode.payload["env"] == "counter" and episode.payload["task_id"] == "count-1"
        assert episode.payload["success"] is traj.outcome.success and episode.payload["source"] == "env"
        assert episode.payload["steps"] == len(traj.steps) and traj.summary is not None
        assert episode.text.startswith("Goal: Make the counter equal 1")
        assert episode.payload["summary"]["outcome"].split(" ")[0] in {"success", "failure"}
        insights = await memory.list(kinds=["insight"])
        assert len(insights) == 2  # the seeded tip + the agent's distilled lesson
        # provenance: whatever the coach injected is credited with the episode's reward
        events = await memory.usage_events()
        assert {e.item_id for e in events} == set(traj.recalled_ids)
        if traj.recalled_ids:
            assert tip.id in traj.recalled_ids and any(tip.id in s.advice_ids for s in traj.steps)
    finally:
        await memory.aclose()

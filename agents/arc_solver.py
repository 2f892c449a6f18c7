"""The ARC solver agent: llm | search | hybrid program synthesis, steered by concept memory.

- `search`: enumerative search over the grid DSL (agents/arc_search.py). Retrieved concepts (the loop's
  recall) become priors: their primitives are tried first and their programs are seeds and macros;
  the `ProgramLibrary` (every verified program in memory) turns recurring sub-programs into new
  primitives and its primitive frequencies into a global prior (library learning).
- `llm`: ArcMemo-style synthesis — the model sees the train pairs and the retrieved concepts and
  writes `transform(grid)`; the env verifies it on the train pairs in the sandbox; the next step gets
  the concrete feedback (which pair failed, shape/cell diff) for a bounded number of rounds.
- `hybrid`: the model reads the task's cues and the retrieved concepts and proposes which primitive
  families to use (a sketch); the search fills it in; if nothing verifies, one LLM program follows.

Every mode submits up to two programs (pass@2). `distil` writes a concept only for programs the env
verified on all train pairs (outcome source "verifier"); failures write their failure modes.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from agentmem.agents.arc_dsl import STATIC, describe_program, primitive, program_source
from agentmem.agents.arc_features import cue_text, task_cues
from agentmem.agents.arc_search import (
    Priors,
    SearchConfig,
    SearchResult,
    base_steps,
    priors_from_programs,
    search,
)
from agentmem.agents.base import ActContext, ActDecision
from agentmem.envs.arc import ArcAction, ArcProgram, render_task
from agentmem.envs.base import Observation
from agentmem.errors import LLMError
from agentmem.types import EpisodeSummary, MemoryDraft, SearchHit, Task, Trajectory, Usage

SolverMode = Literal["llm", "search", "hybrid"]
FAMILIES = sorted({p.family for p in STATIC.values()} | {"color"})


# --- library learning ----------------------------------------------------------------------------
@dataclass
class ProgramLibrary:
    """Verified programs known to memory; source of global primitive priors and learned macros."""

    programs: list[list[str]] = field(default_factory=list)

    def add(self, steps: list[str]) -> None:
        if steps and steps not in self.programs:
            self.programs.append(list(steps))

    def weights(self) -> dict[str, float]:
        """Primitives used by many verified programs get cheaper: 1 / (1 + 0.5 ln(1 + count))."""
        counts: Counter[str] = Counter()
        for prog in self.programs:
            for step in set(base_steps(prog)):
                counts[step] += 1
                fam = step.split(":")[0]
                if fam != step:
                    counts[fam] += 1
        return {name: 1.0 / (1.0 + 0.5 * math.log1p(n)) for name, n in counts.items()}

    @classmethod
    async def from_memory(cls, memory: Any, *, env: str = "arc") -> ProgramLibrary:
        """Every verified concept's program in `memory` (concepts are only written after verification)."""
        items = await memory.list(kinds=["concept"], filters={"env": env})
        lib = cls()
        for item in items:
            prog = item.payload.get("program")
            if item.payload.get("verified_on") == "train pairs" and isinstance(prog, list):
                lib.add([str(s) for s in prog])
        return lib


def merge_priors(
    memory_priors: Priors, library: ProgramLibrary | None, extra: dict[str, float] | None = None
) -> Priors:
    weights = dict(library.weights()) if library else {}
    for source in (memory_priors.weights, extra or {}):
        for name, w in source.items():
            weights[name] = min(weights.get(name, 1.0), w)
    return Priors(
        weights=weights,
        seeds=memory_priors.seeds,
        macros=memory_priors.macros,
        focus=memory_priors.focus,
        learned=memory_priors.learned,
    )


def recalled_programs(recalled: list[SearchHit]) -> list[tuple[list[str], float]]:
    out = []
    for hit in recalled:
        prog = hit.item.payload.get("program")
        if hit.item.kind == "concept" and isinstance(prog, list) and prog:
            out.append(([str(s) for s in prog], float(hit.score)))
    return out


def _run_search(train: list, tests: list, priors: Priors, config: SearchConfig) -> SearchResult:
    return search(train, tests, priors, config)


# --- LLM parts --------------------------------------------------------------------------------------
class FamilySketch(BaseModel):
    """The hybrid mode's sketch: which primitive families the transformation probably needs."""

    families: list[str] = Field(default_factory=list, max_length=4)
    reason: str = ""


_CODE_RE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)

_LLM_SYSTEM = (
    "You solve ARC puzzles by writing Python. A grid is a list of lists of ints 0-9. Write a function "
    "`transform(grid)` that maps every train input to its train output; it will be run on the test "
    "inputs. You may use numpy and the standard library (no files, no network). Reply with one "
    "```python code block only."
)


def extract_code(text: str) -> str | None:
    blocks = _CODE_RE.findall(text)
    code = max(blocks, key=len) if blocks else (text if "def transform" in text else None)
    if code is None or "def transform" not in code:
        return None
    return code.strip() + "\n"


def _concept_lines(recalled: list[SearchHit], limit: int = 4) -> list[str]:
    lines = []
    for hit in recalled[:limit]:
        p = hit.item.payload
        if hit.item.kind == "concept":
            lines.append(f"- {p.get('name', 'concept')}: {p.get('description', hit.item.text)[:200]}")
        elif p.get("failure_modes"):
            lines.append(f"- failed before on a similar task: {'; '.join(p['failure_modes'])[:200]}")
    return lines


# --- the agent -------------------------------------------------------------------------------------
class ArcSolver:
    """Implements the Agent protocol (agents/base.py) for ARC in three modes."""

    name = "arc_solver"
    action_schema = ArcAction

    def __init__(
        self,
        mode: SolverMode = "search",
        *,
        budget_s: float = 20.0,
        max_depth: int = 3,
        budget_candidates: int | None = None,
        library: ProgramLibrary | None = None,
        executor: Executor | None = None,
        llm_max_tokens: int = 700,
        prompt_chars: int = 6000,
    ) -> None:
        if mode not in ("llm", "search", "hybrid"):
            raise ValueError(f"unknown ARC solver mode {mode!r}")
        self.mode = mode
        self.budget_s = budget_s
        self.max_depth = max_depth
        self.budget_candidates = budget_candidates
        self.library = library if library is not None else ProgramLibrary()
        self.executor = executor
        self.llm_max_tokens = llm_max_tokens
        self.prompt_chars = prompt_chars

    # Agent protocol ------------------------------------------------------------------------------
    def memory_query(self, task: Task, observation: Observation | None) -> str:
        train, tests = _task_grids(task)
        return cue_text(task_cues(train, tests))

    async def act(self, ctx: ActContext) -> ActDecision:
        if self.mode == "search":
            return await self._act_search(ctx, extra=None)
        if self.mode == "llm":
            return await self._act_llm(ctx)
        return await self._act_hybrid(ctx)

    def distil(self, trajectory: Trajectory, summary: EpisodeSummary) -> list[MemoryDraft]:
        """Concepts from train-verified programs only; failure modes from failed episodes."""
        task = trajectory.task
        train, tests = _task_grids(task)
        cues = task_cues(train, tests)
        answer = trajectory.answer if isinstance(trajectory.answer, dict) else {}
        outcome = trajectory.outcome
        drafts: list[MemoryDraft] = []
        if outcome.source == "verifier" and outcome.success:
            for prog in answer.get("verified", [])[:1]:
                steps = prog.get("steps")
                description = prog.get("description") or (describe_program(steps) if steps else "")
                name = "+".join(base_steps(steps)) if steps else f"program for {task.id}"
                kind = _concept_kind(steps)
                text = f"Concept {name or 'recolour'} ({kind}). When: {'; '.join(cues)}. Does: {description}."
                drafts.append(
                    MemoryDraft(
                        kind="concept",
                        text=text,
                        payload={
                            "name": name or "recolour",
                            "kind": kind,
                            "description": description,
                            "cues": cues,
                            "implementation": prog.get("code", ""),
                            "program": steps,
                            "used_in": [task.id],
                            "verified_on": "train pairs",
                            "origin": prog.get("origin", ""),
                        },
                    )
                )
                if steps:
                    self.library.add(list(steps))
        elif outcome.source in ("verifier", "env"):
            best = answer.get("best") or {}
            modes = [f"no program verified on the train pairs ({self.mode} mode)"]
            if best.get("steps"):
                modes.append(
                    f"closest program '{'+'.join(best['steps'])}' matched {best.get('train_correct', 0)} pair(s)"
                )
            modes += [f for f in summary.failure_modes[:2] if f]
            drafts.append(
                MemoryDraft(
                    kind="insight",
                    text=f"Unsolved ARC pattern. When: {'; '.join(cues)}. Failure modes: {'; '.join(modes)}.",
                    payload={"cues": cues, "failure_modes": modes, "program": None, "kind": "failure"},
                )
            )
        return drafts

    # modes -------------------------------------------------------------------------------------------
    async def _search(self, ctx: ActContext, extra: dict[str, float] | None, budget: float) -> SearchResult:
        train, tests = _task_grids(ctx.task)
        memory_priors = priors_from_programs(recalled_programs(ctx.recalled), self.library.programs)
        priors = merge_priors(memory_priors, self.library, extra)
        config = SearchConfig(
            budget_s=max(0.5, budget), max_depth=self.max_depth, max_candidates=self.budget_candidates
        )
        loop = asyncio.get_running_loop()
        if self.executor is not None:
            return await loop.run_in_executor(self.executor, _run_search, train, tests, priors, config)
        return await asyncio.to_thread(_run_search, train, tests, priors, config)

    async def _act_search(
        self,
        ctx: ActContext,
        extra: dict[str, float] | None,
        budget: float | None = None,
        usage: Usage | None = None,
    ) -> ActDecision:
        if ctx.history:  # the search already ran; nothing new to offer
            return ActDecision(
                action=ArcAction(programs=[], final=True), thought="search exhausted", usage=usage or Usage()
            )
        result = await self._search(ctx, extra, budget if budget is not None else self.budget_s)
        programs = [
            ArcProgram(
                code=program_source(sol.steps),
                steps=sol.steps,
                description=describe_program(sol.steps),
                origin="memory" if sol.from_seed else "search",
            )
            for sol in result.solutions[:2]
        ]
        final = True
        if not programs and result.best_partial:
            programs = [
                ArcProgram(
                    code=program_source(result.best_partial),
                    steps=result.best_partial,
                    description=describe_program(result.best_partial),
                    origin="search",
                )
            ]
        thought = (
            f"search: {len(result.solutions)} verified-on-train program(s), {result.candidates} candidates, "
            f"{result.expanded} states expanded in {result.elapsed_s:.1f}s"
        )
        ctx.state["search"] = {
            "solutions": len(result.solutions),
            "expanded": result.expanded,
            "candidates": result.candidates,
            "elapsed_s": round(result.elapsed_s, 2),
        }
        return ActDecision(
            action=ArcAction(programs=programs, final=final, thought=thought),
            thought=thought,
            usage=usage or Usage(),
        )

    async def _act_llm(self, ctx: ActContext) -> ActDecision:
        train, tests = _task_grids(ctx.task)
        concepts = _concept_lines(ctx.recalled)
        parts = []
        if concepts:
            parts.append("Concepts that solved similar tasks (verified):\n" + "\n".join(concepts))
        parts.append(render_task(train, tests)[: self.prompt_chars])
        if ctx.history:
            last = ctx.history[-1]
            prev = (ctx.state.get("last_code") or "")[:1500]
            parts.append(
                f"Your previous program:\n```python\n{prev}```\nVerifier feedback:\n{last.observation[:800]}"
            )
            parts.append("Fix the program.")
        messages = [
            {"role": "system", "content": _LLM_SYSTEM},
            {"role": "user", "content": "\n\n".join(parts)},
        ]
        try:
            completion = await ctx.llm.chat(messages, max_tokens=self.llm_max_tokens)
        except LLMError as exc:
            return ActDecision(error=f"{type(exc).__name__}: {exc}")
        code = extract_code(completion.text)
        if code is None:
            return ActDecision(error="the model wrote no transform(grid) function", usage=completion.usage)
        ctx.state["last_code"] = code
        action = ArcAction(
            programs=[ArcProgram(code=code, origin="llm", description="model-written program")],
            final=ctx.steps_left <= 1,
        )
        return ActDecision(action=action, thought="llm program", usage=completion.usage)

    async def _act_hybrid(self, ctx: ActContext) -> ActDecision:
        if ctx.history:
            return await self._act_llm(ctx)
        started = time.monotonic()
        train, tests = _task_grids(ctx.task)
        cues = task_cues(train, tests)
        concepts = _concept_lines(ctx.recalled)
        prompt = (
            f"ARC task cues: {'; '.join(cues)}.\n"
            + ("Similar solved tasks used: \n" + "\n".join(concepts) + "\n" if concepts else "")
            + f"Primitive families: {', '.join(FAMILIES)}.\n"
            'Which 1-3 families does this task need? JSON: {"families": [...], "reason": "..."}'
        )
        extra: dict[str, float] = {}
        usage = Usage()
        try:
            completion = await ctx.llm.chat(
                [{"role": "user", "content": prompt}], schema=FamilySketch, max_tokens=80
            )
            usage = completion.usage
            sketch: FamilySketch = completion.parsed
            chosen = {f.strip().lower() for f in sketch.families} & set(FAMILIES)
            for prim in STATIC.values():
                if prim.family in chosen:
                    extra[prim.name] = 0.6
            for fam in ("keep", "remove", "cropc", "symfill"):
                if primitive(f"{fam}:1").family in chosen:
                    extra[fam] = 0.7
            ctx.state["sketch"] = sorted(chosen)
        except LLMError as exc:  # the sketch is optional: search with memory priors alone
            ctx.state["sketch_error"] = f"{type(exc).__name__}: {exc}"
        remaining = max(0.5, self.budget_s - (time.monotonic() - started))
        decision = await self._act_search(ctx, extra, budget=remaining, usage=usage)
        # Keep the episode open for one LLM repair round when the search found nothing verified.
        if isinstance(decision.action, ArcAction) and not ctx.state.get("search", {}).get("solutions"):
            decision.action.final = False
        return decision


def make_executor(workers: int) -> Executor | None:
    """A process pool for CPU-bound searches (None: run in a thread). Spawned, so no fork hazards."""
    if workers <= 0:
        return None
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _task_grids(task: Task) -> tuple[list[tuple[Any, Any]], list[Any]]:
    train = [(p["input"], p["output"]) for p in task.payload.get("train", [])]
    tests = [t["input"] for t in task.payload.get("test", [])]
    return train, tests


def _concept_kind(steps: list[str] | None) -> str:
    if not steps:
        return "program"
    base = base_steps(steps)
    if not base:
        return "color"
    try:
        return primitive(base[-1]).family
    except KeyError:
        return "program"

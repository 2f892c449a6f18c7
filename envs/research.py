"""The research env: a tool belt (web search, fetch, local corpus search, Python sandbox, file reader)
behind envs/base.py's Env protocol. An episode is one question; each step is one tool call or the
final answer. The env never sees the label: the answer's outcome comes from the agent's
self-verification (source "verifier"); label scoring happens in eval/ after the episode.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agentmem.envs.base import Observation, StepResult
from agentmem.envs.research_corpus import CorpusSearchArgs, LocalCorpus
from agentmem.envs.research_tools import (
    DEFAULT_MAX_CHARS,
    FetchArgs,
    ReadFileArgs,
    RunPythonArgs,
    RunPythonResult,
    ToolOutput,
    WebSearchArgs,
    fetch_url,
    read_file,
    render,
    web_search,
)
from agentmem.errors import InvalidActionError, SandboxError, ToolError
from agentmem.types import Outcome, Task

ToolName = Literal["web_search", "fetch_url", "search_corpus", "run_python", "read_file"]
TOOL_NAMES: tuple[str, ...] = ("web_search", "fetch_url", "search_corpus", "run_python", "read_file")

TOOL_HELP: dict[str, str] = {
    "read_file": 'read_file {"path": "<file name>"}: read an attached/local file (csv, xlsx, json, pdf, docx, html, text)',
    "run_python": 'run_python {"code": "<python>"}: run code, print() the result; FILES dict maps file name -> path',
    "search_corpus": 'search_corpus {"query": "<words>"}: search the local document collection',
    "web_search": 'web_search {"query": "<words>"}: search the web',
    "fetch_url": 'fetch_url {"url": "<http url>"}: read a web page',
}


class ToolCallAction(BaseModel):
    kind: Literal["tool"] = "tool"
    tool: ToolName
    args: dict[str, Any] = Field(default_factory=dict)


class AnswerAction(BaseModel):
    kind: Literal["answer"] = "answer"
    answer: str
    verified: bool | None = None  # the agent's self-verification verdict (None: not checked)
    evidence: str = ""


PythonRunner = Callable[[RunPythonArgs, dict[str, str]], Awaitable[RunPythonResult]]


# io: models read tables through `StringIO`; a file it opens is still audited (no writes outside the sandbox).
PYTHON_IMPORTS = (
    "pandas", "csv", "numpy", "math", "statistics", "re", "json", "collections", "datetime", "io",
)  # fmt: skip


# Bare attachment names resolve to their paths (small models write read_csv("data.csv")).
_PRELUDE = """FILES = {files!r}
import pandas as _pd
def _attached(p):
    return FILES.get(p, p) if isinstance(p, str) else p
_pd_read_csv, _pd_read_excel, _open = _pd.read_csv, _pd.read_excel, open
_pd.read_csv = lambda p, *a, **k: _pd_read_csv(_attached(p), *a, **k)
_pd.read_excel = lambda p, *a, **k: _pd_read_excel(_attached(p), *a, **k)
def open(p, *a, **k):
    return _open(_attached(p), *a, **k)
"""


async def sandbox_python(args: RunPythonArgs, files: dict[str, str]) -> RunPythonResult:
    """Run code in the project's sandbox (envs/sandbox.py); FILES maps attachment names to paths."""
    from agentmem.envs import sandbox

    code = _PRELUDE.format(files=files) + args.code
    limits = sandbox.SandboxLimits(cpu_s=args.timeout_s, wall_s=args.timeout_s + 10, memory_mb=2048)
    allowed = tuple(dict.fromkeys((*sandbox.DEFAULT_ALLOWED_IMPORTS, *PYTHON_IMPORTS)))
    try:
        res = await sandbox.arun_code(code, limits=limits, allowed_imports=allowed, preload=("pandas",))
    except sandbox.SandboxRuntimeError as exc:
        tb = (exc.traceback or "").strip().splitlines()[-3:]
        raise ToolError("run_python: " + ("\n".join(tb) if tb else str(exc))) from exc
    except sandbox.SandboxForbiddenError as exc:  # say what may be imported, so the retry can do without
        raise ToolError(f"run_python: {exc}; importable: {', '.join(allowed)}") from exc
    except SandboxError as exc:
        raise ToolError(f"run_python: {type(exc).__name__}: {exc}") from exc
    if not res.stdout.strip():
        raise ToolError("run_python: the code printed nothing; print() the values you need")
    return RunPythonResult(ok=True, stdout=res.stdout)


class ToolBelt:
    """The tools available to one task: which folders are readable, which corpus, web on or off."""

    def __init__(
        self,
        *,
        roots: list[Path] | None = None,
        corpus: LocalCorpus | None = None,
        allow_web: bool = False,
        python: PythonRunner | None = sandbox_python,
        max_chars: int = DEFAULT_MAX_CHARS,
    ):
        self.roots = [Path(r).resolve() for r in (roots or [])]
        self.corpus = corpus
        self.allow_web = allow_web
        self.python = python
        self.max_chars = max_chars

    @property
    def names(self) -> list[str]:
        out = ["read_file"] if self.roots else []
        if self.python is not None:
            out.append("run_python")
        if self.corpus is not None:
            out.append("search_corpus")
        if self.allow_web:
            out += ["web_search", "fetch_url"]
        return out

    def describe(self) -> str:
        return "\n".join(f"- {TOOL_HELP[n]}" for n in self.names)

    def files(self) -> dict[str, str]:
        """Readable files by name (attachments), for the Python tool's FILES dict."""
        out: dict[str, str] = {}
        for root in self.roots:
            if root.is_dir():
                for p in sorted(root.iterdir()):
                    if p.is_file() and not p.name.startswith(".") and p.name != "metadata.jsonl":
                        out.setdefault(p.name, str(p))
        return out

    async def call(self, tool: str, args: dict[str, Any]) -> ToolOutput:
        """Validate args, run the tool, render bounded untrusted text. Raises ToolError on any failure."""
        if tool not in self.names:
            raise ToolError(f"tool {tool!r} is not available here (available: {', '.join(self.names)})")
        try:
            if tool == "read_file":
                res = read_file(ReadFileArgs.model_validate(args), self.roots)
                return render(tool, res, self.max_chars, source=f"file:{Path(res.path).name}")
            if tool == "run_python":
                assert self.python is not None
                res = await self.python(RunPythonArgs.model_validate(args), self.files())
                return render(tool, res, self.max_chars, source="python")
            if tool == "search_corpus":
                assert self.corpus is not None
                res = await self.corpus.search(CorpusSearchArgs.model_validate(args))
                return render(tool, res, self.max_chars, source="corpus")
            if tool == "web_search":
                res = await web_search(WebSearchArgs.model_validate(args))
                return render(tool, res, self.max_chars, source="web_search")
            res = await fetch_url(FetchArgs.model_validate(args))
            return render(tool, res, self.max_chars, source=res.url)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:4])
            raise ToolError(f"{tool}: bad arguments ({problems})") from exc


def coerce_action(action: BaseModel) -> BaseModel:
    """Accept any model shaped like a tool call or an answer (e.g. an action rebuilt on resume)."""
    if isinstance(action, ToolCallAction | AnswerAction):
        return action
    kind = getattr(action, "kind", None)
    data = {k: v for k, v in action.model_dump().items() if v is not None}
    try:
        if kind == "tool":
            return ToolCallAction.model_validate(data)
        if kind == "answer":
            return AnswerAction.model_validate(data)
    except ValidationError as exc:
        raise InvalidActionError(f"malformed research action: {exc.errors()[:2]}") from exc
    return action


class ResearchEnvConfig(BaseModel):
    corpus_roots: list[Path] = Field(default_factory=list)
    allow_web: bool = False
    max_chars: int = DEFAULT_MAX_CHARS
    max_tool_calls: int = 24


def computed(action: AnswerAction, calls: list[dict[str, Any]]) -> bool:
    """Did the tool calls produce the answer: the agent found it in their output (`verified`) and no
    call's arguments hold it as a literal (a number written in, or the text itself)?"""
    value = action.answer.strip()
    if not action.verified or not value:
        return False
    pattern = re.compile(rf"(?<![\w.]){re.escape(value)}(?![\w.])", re.IGNORECASE)
    return not any(pattern.search(str(c.get("args") or "")) for c in calls)


class ResearchEnv:
    """One question per episode. Task payload: question, file_path (optional attachment), corpus (bool)."""

    name = "research"

    def __init__(
        self,
        config: ResearchEnvConfig | None = None,
        *,
        corpus: LocalCorpus | None = None,
        python: PythonRunner | None = sandbox_python,
        grader: Callable[[str], bool] | None = None,
        grade_needs_computed: bool = False,
    ):
        self.config = config or ResearchEnvConfig()
        # Training runs only (a dev split whose labels may teach memory): grades the final answer
        # against the known reference, and the outcome says so (source "label"), which the loop
        # refuses to write in test-time mode. Without it the outcome is the agent's self-verification.
        self._grader = grader
        # A hindsight retry knows the reference: its answer counts as right only if the calls computed
        # it (found in tool output, never written into a call's arguments), or the case would teach a
        # copied value.
        self._grade_needs_computed = grade_needs_computed
        self._corpus = corpus
        if self._corpus is None and self.config.corpus_roots:
            self._corpus = LocalCorpus(self.config.corpus_roots)
        self._python = python
        self.belt: ToolBelt | None = None
        self.task: Task | None = None
        self.calls: list[dict[str, Any]] = []

    async def reset(self, task: Task) -> Observation:
        self.task = task
        self.calls = []
        file_path = task.payload.get("file_path")
        roots: list[Path] = []
        if file_path:
            fp = Path(file_path)
            if not fp.is_file():
                raise ToolError(f"task {task.id}: attachment {fp} is missing")
            roots.append(fp.parent)
        use_corpus = task.payload.get("corpus", True)
        self.belt = ToolBelt(
            roots=roots,
            corpus=self._corpus if use_corpus else None,
            allow_web=self.config.allow_web,
            python=self._python,
            max_chars=self.config.max_chars,
        )
        question = task.payload.get("question") or task.goal
        lines = [f"Question: {question}"]
        if file_path:
            lines.append(f"Attached file: {Path(file_path).name}")
        lines.append("Tools:\n" + self.belt.describe())
        return Observation(
            text="\n".join(lines),
            data={"tools": self.belt.names, "file_name": Path(file_path).name if file_path else None},
        )

    async def step(self, action: BaseModel) -> StepResult:
        if self.belt is None or self.task is None:
            raise InvalidActionError("step() before reset()")
        action = coerce_action(action)
        if isinstance(action, AnswerAction):
            if self._grader is not None:
                right = self._grader(action.answer)
                detail = "graded against the reference"
                if right and self._grade_needs_computed and not computed(action, self.calls):
                    right, detail = (
                        False,
                        "right value, but not computed by the calls (written in or not found)",
                    )
                outcome = Outcome(success=right, score=float(right), source="label", detail=detail)
            else:
                outcome = Outcome(
                    success=action.verified,
                    score=1.0 if action.verified else 0.0,
                    source="verifier",
                    detail="self-verification" if action.verified is not None else "not verified",
                )
            return StepResult(
                observation=Observation(text=f"Final answer submitted: {action.answer}"),
                done=True,
                outcome=outcome,
                answer=action.answer,
                info={"answer": action.answer, "tool_calls": list(self.calls)},
            )
        if not isinstance(action, ToolCallAction):
            raise InvalidActionError(
                f"research env takes ToolCallAction or AnswerAction, not {type(action).__name__}"
            )
        if len(self.calls) >= self.config.max_tool_calls:
            return StepResult(
                observation=Observation(
                    text="", error=f"tool budget of {self.config.max_tool_calls} calls spent"
                ),
                info={"tool": action.tool, "ok": False},
            )
        started = time.perf_counter()
        record: dict[str, Any] = {"tool": action.tool, "args": action.args}
        try:
            out = await self.belt.call(action.tool, action.args)
        except ToolError as exc:
            record.update(ok=False, error=str(exc), latency_s=round(time.perf_counter() - started, 4))
            self.calls.append(record)
            return StepResult(observation=Observation(text="", error=str(exc)), info=record)
        record.update(ok=True, truncated=out.truncated, latency_s=round(time.perf_counter() - started, 4))
        self.calls.append(record)
        return StepResult(
            observation=Observation(text=out.text, data={"tool": out.tool, "truncated": out.truncated}),
            info=record,
        )

    async def close(self) -> None:
        self.belt = None

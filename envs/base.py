"""The Env protocol every world implements (web, ARC, research tools)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agentmem.types import Outcome, Task


class Observation(BaseModel):
    """What the agent sees after reset/step.

    `text` is ready for a prompt; parts that come from outside (page text, tool output) must already
    be delimited as untrusted data by the env (see `quote_untrusted`). `data` carries structured
    content (element lists, grids...) for agents that want it.
    """

    text: str
    data: dict[str, Any] = Field(default_factory=dict)
    image_png: bytes | None = None
    error: str | None = None  # the last action could not be applied (invalid element id, ...)


class StepResult(BaseModel):
    observation: Observation
    reward: float = 0.0
    done: bool = False
    info: dict[str, Any] = Field(default_factory=dict)
    # Set by the env when the episode ends: who judged it (env reward, verifier...). Never "label"
    # from inside a test-time episode: label scoring happens in eval/, after the episode.
    outcome: Outcome | None = None
    # The episode's final answer when the env knows it (submitted test outputs, a research answer).
    answer: Any = None


@runtime_checkable
class Env(Protocol):
    """An async world. One instance serves one episode at a time (the runner makes one per episode).

    Resuming an interrupted episode calls `reset(task)` again and replays the recorded actions with
    `step`, so an env whose episodes are deterministic given the task (seeds in `task.payload`)
    resumes exactly; `step` raises InvalidActionError for an action it cannot apply (the loop
    records it as a step error) and EnvError when the world itself broke (the episode ends).
    """

    name: str

    async def reset(self, task: Task) -> Observation: ...

    async def step(self, action: BaseModel) -> StepResult: ...

    async def close(self) -> None: ...


EnvFactory = Callable[[], "Env | Awaitable[Env]"]

UNTRUSTED_OPEN = "<<<UNTRUSTED_DATA"
UNTRUSTED_CLOSE = "UNTRUSTED_DATA>>>"


def quote_untrusted(text: str, source: str = "page") -> str:
    """Delimit outside content so prompts (and memory) treat it as data, never as instructions."""
    cleaned = text.replace(UNTRUSTED_OPEN, "<<<").replace(UNTRUSTED_CLOSE, ">>>")
    return f"{UNTRUSTED_OPEN} source={source}\n{cleaned}\n{UNTRUSTED_CLOSE}"

"""What an agent supplies to the loop.

The loop owns recall, coaching, budgets, condensing and memorizing; an agent owns how it decides the
next action (`act`) and what it wants remembered (`distil`). `act` gets everything in an ActContext,
so one protocol fits an LLM that emits one action per step (web), a solver that proposes and verifies
programs (ARC: one `act` may run a search or a propose/verify/refine cycle), and a planner–executor
(research: `state` carries the plan across steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agentmem.envs.base import Observation
from agentmem.errors import LLMError
from agentmem.llm.base import LLM, Completion, Message
from agentmem.types import Advice, EpisodeSummary, MemoryDraft, SearchHit, Step, Task, Trajectory, Usage


@dataclass
class ActContext:
    task: Task
    observation: Observation
    history: list[Step]
    advice: list[Advice]
    llm: LLM
    # The memory items behind the advice the coach chose to inject (empty when it stayed silent):
    # episode items carry payload["actions"] (exemplar trajectories) and payload["success"].
    recalled: list[SearchHit] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # agent scratch state; JSON-serialisable
    step_index: int = 0
    steps_left: int = 0


class ActDecision(BaseModel):
    """The agent's choice for one step. `action=None` with `error` records a failed step."""

    action: BaseModel | None = None
    thought: str = ""
    label: str = ""  # instance-free rendering of the action for summaries (see `Step.label`)
    memory_id: str | None = None  # the memory item the action was replayed from (see `Step.memory_id`)
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)


@runtime_checkable
class Agent(Protocol):
    name: str
    action_schema: type[BaseModel]

    def memory_query(self, task: Task, observation: Observation | None) -> str:
        """The text used to retrieve memory for this task (goal + salient observable features)."""
        ...

    async def act(self, ctx: ActContext) -> ActDecision: ...

    def distil(self, trajectory: Trajectory, summary: EpisodeSummary) -> list[MemoryDraft]:
        """Concepts/insights worth storing after an episode (from successes and failures)."""
        ...


def format_advice(advice: list[Advice]) -> str:
    """Advice as a system message: retrieved experience, clearly labelled as such."""
    lines = ["Advice from memory of earlier episodes (use it if it fits this task):"]
    lines += [f"- {a.text}" for a in advice if a.text.strip()]
    return "\n".join(lines)


class LLMAgent:
    """Base for agents that ask the model for one schema-constrained action per step.

    Subclasses define `name`, `action_schema`, `system_prompt` and `user_prompt`; parse failures the
    LLM layer could not repair become a step error, never an exception out of the loop.
    """

    name: str = "agent"
    action_schema: type[BaseModel] = BaseModel

    def system_prompt(self, task: Task) -> str:
        raise NotImplementedError

    def user_prompt(self, ctx: ActContext) -> str:
        raise NotImplementedError

    def build_messages(self, ctx: ActContext) -> list[Message]:
        messages: list[Message] = [{"role": "system", "content": self.system_prompt(ctx.task)}]
        if ctx.advice:
            messages.append({"role": "system", "content": format_advice(ctx.advice)})
        messages.append({"role": "user", "content": self.user_prompt(ctx)})
        return messages

    def to_action(self, completion: Completion) -> BaseModel:
        return completion.parsed

    def memory_query(self, task: Task, observation: Observation | None) -> str:
        return task.goal

    async def act(self, ctx: ActContext) -> ActDecision:
        try:
            completion = await ctx.llm.chat(self.build_messages(ctx), schema=self.action_schema)
        except LLMError as exc:
            return ActDecision(error=f"{type(exc).__name__}: {exc}")
        action = self.to_action(completion)
        thought = str(getattr(action, "thought", "") or "")
        return ActDecision(action=action, thought=thought, usage=completion.usage)

    def distil(self, trajectory: Trajectory, summary: EpisodeSummary) -> list[MemoryDraft]:
        drafts: list[MemoryDraft] = []
        success = trajectory.outcome.success
        for lesson in summary.lessons:
            drafts.append(
                MemoryDraft(
                    kind="insight", text=lesson, payload={"env": trajectory.task.env, "success": success}
                )
            )
        return drafts

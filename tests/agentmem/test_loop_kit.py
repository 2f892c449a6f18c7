"""A tiny real env and a scripted-model agent for the loop tests (plus tests of the kit itself).

CounterEnv: reach `payload["target"]` from 0 with inc/dec, then submit. Its verdict's source comes
from `payload["source"]` (env by default) so tests can produce verifier/label outcomes.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from agentmem.agents.base import ActContext, LLMAgent
from agentmem.envs.base import Observation, StepResult
from agentmem.errors import EnvError, InvalidActionError
from agentmem.llm.base import Message
from agentmem.llm.scripted import ScriptedLLM
from agentmem.types import EpisodeSummary, MemoryDraft, Outcome, Task, Trajectory


class CountAction(BaseModel):
    op: Literal["inc", "dec", "submit"]
    thought: str = ""


class CounterEnv:
    name = "counter"

    def __init__(self, crash_at: dict[str, int] | None = None) -> None:
        self.counter = 0
        self.target = 0
        self.source = "env"
        self.task: Task | None = None
        self.log: list[str] = []
        self.crash_at = crash_at if crash_at is not None else {}
        self.closed = False
        self.steps = 0

    async def reset(self, task: Task) -> Observation:
        self.task, self.counter, self.steps = task, 0, 0
        self.target = int(task.payload["target"])
        self.source = task.payload.get("source", "env")
        self.log.append("reset")
        return self._obs()

    def _obs(self, error: str | None = None) -> Observation:
        return Observation(text=f"counter={self.counter} target={self.target}", error=error)

    async def step(self, action: BaseModel) -> StepResult:
        assert isinstance(action, CountAction), type(action)
        if self.crash_at.get("step") == self.steps:
            self.crash_at.clear()
            raise RuntimeError("simulated crash (process killed)")
        if self.crash_at.get("env_error") == self.steps:
            raise EnvError("browser crashed")
        self.steps += 1
        self.log.append(action.op)
        if action.op == "submit":
            ok = self.counter == self.target
            outcome = Outcome(success=ok, score=float(ok), source=self.source)
            return StepResult(
                observation=self._obs(), reward=float(ok), done=True, outcome=outcome, answer=self.counter
            )
        if action.op == "dec" and self.counter == 0:
            raise InvalidActionError("counter cannot go below 0")
        self.counter += 1 if action.op == "inc" else -1
        return StepResult(observation=self._obs())

    async def close(self) -> None:
        self.closed = True


class CounterAgent(LLMAgent):
    name = "counter-agent"
    action_schema = CountAction

    def system_prompt(self, task: Task) -> str:
        return 'Reach the target counter, then submit. Reply JSON {"op": "inc"|"dec"|"submit"}.'

    def user_prompt(self, ctx: ActContext) -> str:
        return f"Goal: {ctx.task.goal}\nObservation: {ctx.observation.text}"

    def distil(self, trajectory: Trajectory, summary: EpisodeSummary) -> list[MemoryDraft]:
        kind_text = "worked" if trajectory.outcome.success else "failed"
        return [
            MemoryDraft(
                kind="insight",
                text=f"Counter tasks: stepping one at a time to the target then submitting {kind_text}.",
                payload={"lesson_of": trajectory.task.id},
            )
        ]


def counter_policy(messages: list[Message]) -> str:
    """A scripted 'model' that plays CounterEnv correctly from the prompt it is given."""
    text = str(messages[-1]["content"])
    m = re.search(r"counter=(-?\d+) target=(-?\d+)", text)
    assert m, text
    counter, target = int(m.group(1)), int(m.group(2))
    op = "submit" if counter == target else ("inc" if counter < target else "dec")
    return json.dumps({"op": op})


def counter_llm(**kw: Any) -> ScriptedLLM:
    return ScriptedLLM(default=counter_policy, **kw)


def counter_task(i: int, target: int = 2, source: str = "env") -> Task:
    return Task(
        id=f"count-{i}",
        env="counter",
        goal=f"Make the counter equal {target}",
        payload={"target": target, "source": source},
    )


async def test_counter_env_verdicts():
    env = CounterEnv()
    obs = await env.reset(counter_task(0, target=1))
    assert obs.text == "counter=0 target=1"
    with pytest.raises(InvalidActionError):
        await env.step(CountAction(op="dec"))
    await env.step(CountAction(op="inc"))
    result = await env.step(CountAction(op="submit"))
    assert result.done and result.outcome == Outcome(success=True, score=1.0, source="env")


def test_counter_policy_reads_prompt():
    assert json.loads(counter_policy([{"role": "user", "content": "counter=0 target=2"}])) == {"op": "inc"}
    assert json.loads(counter_policy([{"role": "user", "content": "counter=2 target=2"}])) == {"op": "submit"}

"""Give an existing LangGraph app recall, coaching and memorizing in a few lines.

The quickest way wraps a compiled graph whose state has a `messages` list (MessagesState):

```python
from langgraph.graph import END, START, MessagesState, StateGraph

from agentmem.hooks import to_chat_messages, with_memory
from agentmem.memory_store import AsyncMemory
from agentmem.types import Outcome

memory = AsyncMemory(namespace="support-bot")


async def chatbot(state: MessagesState):
    reply = await llm.chat(to_chat_messages(state["messages"]))
    return {"messages": [("assistant", reply.text)]}


builder = StateGraph(MessagesState)
builder.add_node("chatbot", chatbot)
builder.add_edge(START, "chatbot")
builder.add_edge("chatbot", END)


def judge(state) -> Outcome:  # your own success signal: a test, a user's thumbs-up, a verifier
    ok = "sorted(" in state["messages"][-1].content
    return Outcome(success=ok, score=float(ok), source="judge")


app = with_memory(builder.compile(), memory, env="python-help", judge=judge)
result = await app.ainvoke({"messages": [("user", "How do I sort a list of numbers in Python?")]})
```

Before your graph runs, relevant earlier episodes are recalled and (when the coach decides so)
put in front of the user's message as a system message; after it, the exchange is condensed and
stored with your judge's verdict, and the memories that were used are credited with it.
For finer control use the node factories (`recall_node`, `coach_node`, `memorize_node`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from agentmem.agents.base import format_advice
from agentmem.coach import Coach, JudgeMode, failure_signals
from agentmem.condenser import Condenser
from agentmem.errors import ConfigError
from agentmem.llm.base import LLM, Message
from agentmem.policy import make_policy
from agentmem.types import Advice, Outcome, Step, Task, Trajectory, new_id

Judge = Callable[[dict[str, Any]], "Outcome | bool | None"]
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def _content(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):  # multimodal blocks: keep the text parts
        return " ".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def to_chat_messages(messages: Sequence[Any]) -> list[Message]:
    """LangChain messages → the plain role/content dicts agentmem's LLMs take."""
    out: list[Message] = []
    for m in messages:
        if isinstance(m, dict):
            out.append({"role": m["role"], "content": str(m.get("content", ""))})
        else:
            out.append({"role": _ROLES.get(getattr(m, "type", ""), "user"), "content": _content(m)})
    return out


def _last_user_text(messages: Sequence[Any]) -> str:
    for m in reversed(messages):
        if getattr(m, "type", None) == "human":
            return _content(m)
    raise ConfigError("the state's messages contain no user message to recall memory for")


def _make_coach(
    memory: Any, llm: LLM | None, k: int, policy: str, threshold: float | None, judge: JudgeMode
) -> Coach:
    return Coach(memory, make_policy(policy, memory), llm, k=k, threshold=threshold, judge=judge)


def _task(state: dict[str, Any], env: str, key: str, fresh: bool = False) -> Task:
    """The current exchange as a Task; `recall` starts a new one per invocation."""
    goal = _last_user_text(state[key])
    task_id = new_id() if fresh else str(state.get("memory_task_id") or new_id())
    return Task(id=task_id, env=env, goal=goal)


def recall_node(
    memory: Any,
    *,
    env: str,
    llm: LLM | None = None,
    k: int = 4,
    policy: Literal["similarity", "learned"] = "similarity",
    threshold: float | None = None,
    judge: JudgeMode = "threshold",
    messages_key: str = "messages",
) -> Callable[[dict[str, Any]], Any]:
    """A node that recalls for the last user message and inserts advice before it (if the coach agrees)."""
    coach = _make_coach(memory, llm, k, policy, threshold, judge)

    async def memory_recall(state: dict[str, Any]) -> dict[str, Any]:
        from langchain_core.messages import RemoveMessage, SystemMessage
        from langgraph.graph.message import REMOVE_ALL_MESSAGES

        task = _task(state, env, messages_key, fresh=True)
        decision = await coach.recall(task, task.goal)
        update: dict[str, Any] = {"memory_task_id": task.id, "memory_advice": []}
        if not decision.intervene or decision.advice is None:
            return update
        messages = list(state[messages_key])
        advice_msg = SystemMessage(content=format_advice([decision.advice]))
        reordered = [*messages[:-1], advice_msg, messages[-1]]
        update[messages_key] = [RemoveMessage(id=REMOVE_ALL_MESSAGES), *reordered]
        update["memory_advice"] = [decision.advice.model_dump(mode="json")]
        return update

    return memory_recall


def coach_node(
    memory: Any,
    *,
    env: str,
    llm: LLM | None = None,
    k: int = 4,
    policy: Literal["similarity", "learned"] = "similarity",
    threshold: float | None = None,
    judge: JudgeMode = "threshold",
    messages_key: str = "messages",
) -> Callable[[dict[str, Any]], Any]:
    """A node for inside an agent loop: reviews the conversation so far and may append advice."""
    coach = _make_coach(memory, llm, k, policy, threshold, judge)

    async def memory_coach(state: dict[str, Any]) -> dict[str, Any]:
        from langchain_core.messages import SystemMessage

        task = _task(state, env, messages_key)
        steps = _steps_of(state[messages_key])
        given = {i for a in state.get("memory_advice", []) for i in a.get("item_ids", [])}
        decision = await coach.review(task, task.goal, steps, failure_signals(steps), given)
        if not decision.intervene or decision.advice is None:
            return {}
        return {
            messages_key: [SystemMessage(content=format_advice([decision.advice]))],
            "memory_advice": [*state.get("memory_advice", []), decision.advice.model_dump(mode="json")],
        }

    return memory_coach


def _steps_of(messages: Sequence[Any]) -> list[Step]:
    """The assistant/tool turns after the first user message, as loop steps (for condensing)."""
    steps: list[Step] = []
    for m in messages:
        kind = getattr(m, "type", "")
        if kind == "ai":
            steps.append(Step(i=len(steps), action={"type": "reply", "text": _content(m)[:2000]}))
        elif kind == "tool" and steps:
            text = _content(m)
            steps[-1].observation = text[:2000]
            if getattr(m, "status", "success") == "error":
                steps[-1].error = text[:300]
    return steps


def _as_outcome(verdict: Outcome | bool | None) -> Outcome | None:
    if verdict is None or isinstance(verdict, Outcome):
        return verdict
    return Outcome(success=bool(verdict), score=float(bool(verdict)), source="judge")


def memorize_node(
    memory: Any,
    *,
    env: str,
    judge: Judge | None = None,
    llm: LLM | None = None,
    policy: Literal["similarity", "learned"] = "similarity",
    test_time: bool = True,
    messages_key: str = "messages",
) -> Callable[[dict[str, Any]], Any]:
    """A node that condenses the exchange and stores it with the judge's verdict.

    Without a judge (or when it returns None) the episode is stored with an unknown outcome and no
    memory is credited. A "label" verdict is never written while `test_time` is True.
    """
    from agentmem.loop import write_episode

    condenser = Condenser(llm)
    pol = make_policy(policy, memory)

    async def memory_memorize(state: dict[str, Any]) -> dict[str, Any]:
        outcome = _as_outcome(judge(state) if judge is not None else None)
        if outcome is not None and outcome.source == "label" and test_time:
            return {"memory_written": []}
        task = _task(state, env, messages_key)
        advice = [Advice.model_validate(a) for a in state.get("memory_advice", [])]
        traj = Trajectory(
            task=task,
            steps=_steps_of(state[messages_key]),
            outcome=outcome or Outcome(success=None, score=0.0, source="judge", detail="no verdict"),
            recalled_ids=list(dict.fromkeys(i for a in advice for i in a.item_ids)),
            advice=advice,
            episode_id=new_id(),
        )
        summary = await condenser.condense(traj, env)
        ids = await write_episode(
            memory, traj, summary, agent_name=env, policy=pol, record_usage=outcome is not None
        )
        return {"memory_written": ids}

    return memory_memorize


def with_memory(
    graph: Any,
    memory: Any,
    *,
    env: str,
    judge: Judge | None = None,
    llm: LLM | None = None,
    k: int = 4,
    policy: Literal["similarity", "learned"] = "similarity",
    threshold: float | None = None,
    coach_judge: JudgeMode = "threshold",
    test_time: bool = True,
    checkpointer: Any = None,
) -> Any:
    """Wrap a compiled MessagesState graph: recall → your graph → memorize, compiled and ready."""
    from langgraph.graph import END, START, MessagesState, StateGraph

    class MemoryState(MessagesState, total=False):
        memory_task_id: str
        memory_advice: list[dict[str, Any]]
        memory_written: list[str]

    outer = StateGraph(MemoryState)
    outer.add_node(
        "memory_recall",
        recall_node(memory, env=env, llm=llm, k=k, policy=policy, threshold=threshold, judge=coach_judge),
    )
    outer.add_node("agent", graph)
    outer.add_node(
        "memory_memorize",
        memorize_node(memory, env=env, judge=judge, llm=llm, policy=policy, test_time=test_time),
    )
    outer.add_edge(START, "memory_recall")
    outer.add_edge("memory_recall", "agent")
    outer.add_edge("agent", "memory_memorize")
    outer.add_edge("memory_memorize", END)
    return outer.compile(checkpointer=checkpointer)

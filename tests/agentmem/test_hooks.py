"""The SDK hooks: the documented `with_memory` example runs as written, against the real store."""

from __future__ import annotations

import ast
import re

from agentmem import hooks
from agentmem.llm.scripted import ScriptedLLM


def _example_code() -> str:
    match = re.search(r"```python\n(.*?)```", hooks.__doc__ or "", re.DOTALL)
    assert match, "agentmem.hooks must document a python example"
    return match.group(1)


async def _run_example(llm: ScriptedLLM) -> dict:
    namespace: dict = {"llm": llm}
    code = compile(_example_code(), "<hooks example>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    coro = eval(code, namespace)
    if coro is not None:
        await coro
    return namespace


async def test_documented_example_recalls_and_memorizes():
    llm = ScriptedLLM(default="Use sorted(nums) or nums.sort().")
    first = await _run_example(llm)
    memory = first["memory"]
    try:
        result = first["result"]
        assert result["messages"][-1].content == "Use sorted(nums) or nums.sort()."
        assert result["memory_advice"] == [] and len(result["memory_written"]) == 1
        stored = await memory.get(result["memory_written"][0])
        assert stored.kind == "episode" and stored.payload["success"] is True
        assert stored.payload["source"] == "judge" and stored.payload["env"] == "python-help"
        assert "How do I sort a list of numbers in Python?" in stored.text
        assert [m["role"] for m in llm.calls[0]["messages"]] == ["user"]

        # The same example again: the first exchange is recalled and put before the question.
        second = await _run_example(llm)
        result2 = second["result"]
        assert result2["memory_advice"] and stored.id in result2["memory_advice"][0]["item_ids"]
        roles = [m["role"] for m in llm.calls[1]["messages"]]
        assert roles == ["system", "user"]
        assert llm.calls[1]["messages"][0]["content"].startswith("Advice from memory of earlier episodes")
        events = await memory.usage_events()
        assert [(e.item_id, e.reward) for e in events] == [(stored.id, 1.0)]
        assert await memory.count(kinds=["episode"]) == 2
        await second["memory"].aclose()
    finally:
        await memory.aclose()


async def test_label_verdicts_are_not_memorized_at_test_time(tmp_path):
    from langgraph.graph import END, START, MessagesState, StateGraph

    from agentmem.memory_store import AsyncMemory
    from agentmem.types import Outcome

    async def bot(state: MessagesState):
        return {"messages": [("assistant", "42")]}

    builder = StateGraph(MessagesState)
    builder.add_node("bot", bot)
    builder.add_edge(START, "bot")
    builder.add_edge("bot", END)
    memory = AsyncMemory(namespace="labels", url=f"sqlite:///{tmp_path / 'm.db'}")
    try:
        app = hooks.with_memory(
            builder.compile(),
            memory,
            env="qa",
            judge=lambda s: Outcome(success=True, score=1.0, source="label"),
        )
        out = await app.ainvoke({"messages": [("user", "What is six times seven?")]})
        assert out["memory_written"] == [] and await memory.count() == 0
    finally:
        await memory.aclose()


def test_to_chat_messages_maps_langchain_roles():
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    msgs = [SystemMessage("s"), HumanMessage("h"), AIMessage("a"), ToolMessage("t", tool_call_id="1")]
    assert hooks.to_chat_messages(msgs) == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "h"},
        {"role": "assistant", "content": "a"},
        {"role": "tool", "content": "t"},
    ]

"""A deterministic test double. Unit tests only: never a default, never used by the main job."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

from agentmem.errors import LLMError
from agentmem.llm.base import BaseLLM, Message, RawReply, ToolCall

Responder = str | dict[str, Any] | BaseModel | RawReply | Callable[[list[Message]], Any]


class ScriptedLLM(BaseLLM):
    """Replies from a script, in order; a callable reply sees the messages and returns one.

    When the script runs out, `default` (if given) answers every further call; otherwise an
    LLMError says the test under-specified its script.
    """

    name = "scripted"

    def __init__(self, replies: Iterable[Responder] = (), *, default: Responder | None = None, **kw: Any):
        super().__init__(**kw)
        self._replies = list(replies)
        self._default = default
        self.calls: list[dict[str, Any]] = []

    async def _request(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None,
        tools: list[dict[str, Any]] | None,
        params: dict[str, Any],
    ) -> RawReply:
        self.calls.append(
            {"messages": messages, "json_schema": json_schema, "tools": tools, "params": params}
        )
        if self._replies:
            spec = self._replies.pop(0)
        elif self._default is not None:
            spec = self._default
        else:
            raise LLMError(f"ScriptedLLM ran out of replies after {len(self.calls) - 1} calls")
        if callable(spec) and not isinstance(spec, BaseModel | RawReply):
            spec = spec(messages)
        return _to_reply(spec, messages)


def _to_reply(spec: Any, messages: list[Message]) -> RawReply:
    if isinstance(spec, RawReply):
        return spec
    if isinstance(spec, BaseModel):
        text = spec.model_dump_json()
    elif isinstance(spec, dict) and "tool_call" in spec:
        call = ToolCall(**spec["tool_call"])
        return RawReply(text="", tool_calls=[call], finish_reason="tool_calls")
    elif isinstance(spec, dict | list):
        text = json.dumps(spec)
    else:
        text = str(spec)
    prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4
    return RawReply(
        text=text, prompt_tokens=prompt_tokens, completion_tokens=len(text) // 4, finish_reason="stop"
    )

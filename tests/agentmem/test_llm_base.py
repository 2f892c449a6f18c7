"""BaseLLM's shared behaviour, driven by the scripted double: repair, retry, typed errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from agentmem.errors import LLMError, LLMOutputError, LLMTimeoutError
from agentmem.llm import LLM, BaseLLM, Message, RawReply, TransientLLMError
from agentmem.llm.scripted import ScriptedLLM
from agentmem.llm.structured import JSONExtractionError, extract_json, parse_structured

USER = [{"role": "user", "content": "hi"}]


class Point(BaseModel):
    x: int
    y: int


def test_scripted_satisfies_protocol():
    assert isinstance(ScriptedLLM(["a"]), LLM)


async def test_plain_reply_and_usage():
    llm = ScriptedLLM(["hello there"])
    out = await llm.chat(USER)
    assert out.text == "hello there"
    assert out.parsed is None
    assert out.usage.calls == 1 and out.usage.completion_tokens > 0
    assert out.attempts == 1
    assert llm.total_usage.calls == 1


async def test_valid_json_parsed_first_try():
    llm = ScriptedLLM(['{"x": 1, "y": 2}'])
    out = await llm.chat(USER, schema=Point)
    assert out.parsed == Point(x=1, y=2)
    assert llm.calls[0]["json_schema"]["properties"].keys() == {"x", "y"}


async def test_fenced_json_with_prose_and_trailing_comma_is_repaired_locally():
    llm = ScriptedLLM(['Sure! ```json\n{"x": 3, "y": 4,}\n``` hope it helps'])
    out = await llm.chat(USER, schema=Point)
    assert out.parsed == Point(x=3, y=4)
    assert out.attempts == 1


async def test_malformed_json_then_repair():
    llm = ScriptedLLM(["{x: oops", '{"x": 5, "y": 6}'])
    out = await llm.chat(USER, schema=Point)
    assert out.parsed == Point(x=5, y=6)
    assert out.attempts == 2
    repair_turn = llm.calls[1]["messages"]
    assert repair_turn[-2] == {"role": "assistant", "content": "{x: oops"}
    assert "not valid JSON" in repair_turn[-1]["content"]
    assert out.usage.calls == 2


async def test_wrong_schema_then_repair_names_the_field():
    llm = ScriptedLLM(['{"x": "seven"}', '{"x": 7, "y": 8}'])
    out = await llm.chat(USER, schema=Point)
    assert out.parsed == Point(x=7, y=8)
    hint = llm.calls[1]["messages"][-1]["content"]
    assert "did not match the schema" in hint and "y" in hint


async def test_truncated_output_gets_shorter_hint_then_error_keeps_raw():
    cut = RawReply(text='{"x": 1, "y"', finish_reason="length", completion_tokens=5)
    llm = ScriptedLLM([cut, cut, cut], max_repairs=2)
    with pytest.raises(LLMOutputError) as info:
        await llm.chat(USER, schema=Point)
    assert info.value.raw == ['{"x": 1, "y"'] * 3
    assert "cut off" in llm.calls[1]["messages"][-1]["content"]
    assert len(llm.calls) == 3


async def test_empty_output_retried_then_typed_error():
    llm = ScriptedLLM(["", "   "], max_repairs=1)
    with pytest.raises(LLMOutputError, match="non-empty reply"):
        await llm.chat(USER)
    assert len(llm.calls) == 2


async def test_empty_then_answer():
    llm = ScriptedLLM(["", "ok"])
    out = await llm.chat(USER)
    assert out.text == "ok" and out.attempts == 2


async def test_tool_call_reply_is_not_empty():
    llm = ScriptedLLM([{"tool_call": {"id": "c1", "name": "search", "arguments": {"q": "x"}}}])
    out = await llm.chat(USER, tools=[{"type": "function", "function": {"name": "search"}}])
    assert out.tool_calls[0].name == "search" and out.tool_calls[0].arguments == {"q": "x"}


async def test_empty_messages_rejected():
    with pytest.raises(LLMError):
        await ScriptedLLM(["x"]).chat([])


async def test_script_exhausted_is_an_error_not_an_empty_result():
    llm = ScriptedLLM([])
    with pytest.raises(LLMError, match="ran out"):
        await llm.chat(USER)


class FlakyLLM(BaseLLM):
    """Fails with a transient error `failures` times, then answers."""

    name = "flaky"

    def __init__(self, failures: int, **kw: Any):
        super().__init__(**kw)
        self.failures = failures
        self.calls = 0

    async def _request(self, messages: list[Message], **kw: Any) -> RawReply:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientLLMError("503 from upstream")
        return RawReply(text="recovered", finish_reason="stop")


async def test_transient_errors_retried_with_backoff(monkeypatch):
    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)
        await real_sleep(0)

    monkeypatch.setattr("agentmem.llm.base.asyncio.sleep", fake_sleep)
    llm = FlakyLLM(failures=2, max_retries=3)
    out = await llm.chat(USER)
    assert out.text == "recovered" and llm.calls == 3
    # Exponential with jitter: attempt i waits within [base * 2**i, 2 * base * 2**i), base 0.5 s.
    assert len(sleeps) == 2
    for attempt, slept in enumerate(sleeps):
        base = 0.5 * 2**attempt
        assert base <= slept < 2 * base, (attempt, slept)


async def test_transient_errors_exhausted_raise(monkeypatch):
    real_sleep = asyncio.sleep
    monkeypatch.setattr("agentmem.llm.base.asyncio.sleep", lambda _d: real_sleep(0))
    llm = FlakyLLM(failures=10, max_retries=2)
    with pytest.raises(TransientLLMError):
        await llm.chat(USER)
    assert llm.calls == 3


class SlowLLM(BaseLLM):
    name = "slow"

    async def _request(self, messages: list[Message], **kw: Any) -> RawReply:
        await asyncio.sleep(5)
        return RawReply(text="late")


async def test_timeout_is_typed():
    with pytest.raises(LLMTimeoutError):
        await SlowLLM(timeout_s=0.05).chat(USER)


class CountingLLM(BaseLLM):
    name = "counting"

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.active = 0
        self.peak = 0

    async def _request(self, messages: list[Message], **kw: Any) -> RawReply:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.01)
        self.active -= 1
        return RawReply(text="ok")


async def test_concurrency_is_bounded():
    llm = CountingLLM(max_concurrency=2)
    await asyncio.gather(*(llm.chat(USER) for _ in range(8)))
    assert llm.peak == 2


def test_chat_sync_inside_and_outside_a_loop():
    llm = ScriptedLLM(["one", "two"])
    assert llm.chat_sync(USER).text == "one"

    async def inner() -> str:
        return llm.chat_sync(USER).text  # runs in a helper thread: no nested-loop error

    assert asyncio.run(inner()) == "two"


def test_extract_json_cases():
    assert extract_json('[{"a": 1}]') == [{"a": 1}]
    assert extract_json("text {'a': True} more") == {"a": True}
    assert extract_json('x {"s": "a } b"} y') == {"s": "a } b"}
    with pytest.raises(JSONExtractionError):
        extract_json('{"a": 1')
    with pytest.raises(JSONExtractionError):
        extract_json("   ")
    assert parse_structured('[{"x": 1, "y": 2}]', Point) == Point(x=1, y=2)


def test_extract_json_keeps_raw_control_characters_and_the_complete_members_of_a_cut_reply():
    # constrained decoding lets raw newlines into strings (code): still the reply's own object
    assert extract_json('{"code": "import x\nprint(1)"}') == {"code": "import x\nprint(1)"}
    # cut off by the token limit: the complete members, not the inner object parsed as the reply
    cut = '{"tool": "read_file", "args": {"path": "a.csv"}, "result": "the table has col'
    assert extract_json(cut) == {"tool": "read_file", "args": {"path": "a.csv"}}
    assert extract_json('{"plan": [{"g": 1}, {"g": 2}, {"g": "thr') == {"plan": [{"g": 1}, {"g": 2}]}
    with pytest.raises(JSONExtractionError):
        extract_json('{"a": "cut before any member ended')

"""The embedded backend for real: llama.cpp in process with the shipped 0.5B model (tiny prompts)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel, Field

from agentmem.errors import LLMContextLengthError, LLMRequestError
from agentmem.llm import get_llm
from agentmem.llm.llamacpp import LlamaCppLLM, physical_cores

pytestmark = pytest.mark.model
MODEL = "qwen2.5-coder-0.5b"


class Capital(BaseModel):
    country: str
    capital: str = Field(description="the capital city")


@pytest.fixture(scope="module")
def llm() -> LlamaCppLLM:
    return LlamaCppLLM(MODEL, n_ctx=1024, max_tokens=48)


def test_physical_cores_is_sane():
    assert 1 <= physical_cores() <= 1024


async def test_answers_a_prompt(llm):
    out = await llm.chat([{"role": "user", "content": "What is 2+3? Reply with the number only."}])
    assert "5" in out.text
    assert out.usage.prompt_tokens > 5 and out.usage.completion_tokens >= 1
    assert out.finish_reason == "stop" and out.latency_s > 0


async def test_schema_valid_object(llm):
    out = await llm.chat([{"role": "user", "content": "Give the capital of France."}], schema=Capital)
    assert isinstance(out.parsed, Capital)
    assert "paris" in out.parsed.capital.lower()


async def test_concurrent_calls_share_one_model_safely(llm):
    prompts = [f"Reply with the word {w} only." for w in ("apple", "river")]
    outs = await asyncio.gather(*(llm.chat([{"role": "user", "content": p}], max_tokens=8) for p in prompts))
    assert "apple" in outs[0].text.lower() and "river" in outs[1].text.lower()


async def test_tool_call_is_parsed(llm):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    out = await llm.chat([{"role": "user", "content": "What's the weather in Oslo?"}], tools=tools)
    assert out.tool_calls and out.tool_calls[0].name == "get_weather"
    assert "oslo" in str(out.tool_calls[0].arguments.get("city", "")).lower()


async def test_prompt_beyond_context_is_typed(llm):
    with pytest.raises(LLMContextLengthError):
        await llm.chat([{"role": "user", "content": "word " * 2000}])


async def test_unknown_parameter_is_rejected(llm):
    with pytest.raises(LLMRequestError, match="unsupported"):
        await llm.chat([{"role": "user", "content": "hi"}], temprature=0.5)


def test_factory_builds_the_embedded_backend():
    llm = get_llm(backend="llamacpp", model=MODEL, n_ctx=1024)
    assert isinstance(llm, LlamaCppLLM) and llm.n_ctx == 1024
    assert llm.model_path().name.endswith(".gguf")


async def test_continuations_are_scored_as_the_model_would_write_them(llm):
    """Scores follow the model (the asked-for number first, its digits whole: "17" is not "1"),
    repeat, and leave the prompt cache fit for the next chat. Not to the digit: llama.cpp's logits
    move by up to ~0.1 with how the prompt was split into batches (a cold prompt, or its cached
    prefix and a tail), and this prompt's first token is a near-tie between "```" and '{"'."""
    messages = [{"role": "user", "content": 'Reply with this JSON only: {"id": 17}'}]
    options = ['{"id": 17}', '{"id": 1}', '{"id": 7}', '{"id": 42}']
    scores = await llm.score_continuations(messages, options)
    assert max(range(len(options)), key=scores.__getitem__) == 0
    assert all(s <= 0 for s in scores) and scores[1] < scores[0]
    assert await llm.score_continuations(messages, options) == pytest.approx(scores, abs=0.1)
    assert '"id": 17' in (await llm.chat(messages, max_tokens=24)).text

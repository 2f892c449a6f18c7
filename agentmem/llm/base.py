"""The one model interface: async `chat(messages, *, schema=None, tools=None, **params)`.

Backends implement `_request` only; `BaseLLM.chat` owns what every backend must do the same way:
bounded concurrency, structured-output validation with bounded repair, transient-error retries with
backoff, usage/latency accounting, and never returning an empty result silently.
"""

from __future__ import annotations

import asyncio
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field, ValidationError

from agentmem.errors import LLMError, LLMOutputError, LLMRequestError, LLMTimeoutError
from agentmem.llm.structured import JSONExtractionError, json_schema_of, parse_structured, repair_instruction
from agentmem.types import Usage

if TYPE_CHECKING:
    from agentmem.config import LLMSettings

Message = dict[str, Any]


class ToolCall(BaseModel):
    id: str = ""
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Completion(BaseModel):
    """A finished model call: text, the parsed object when a schema was given, usage, latency."""

    text: str
    parsed: Any = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    model: str = ""
    finish_reason: str | None = None
    attempts: int = 1


class RawReply(BaseModel):
    """What a backend's single request returns before validation."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


class TransientLLMError(LLMError):
    """A retryable transport failure (connection reset, 429, 5xx); backends raise it."""


@runtime_checkable
class LLM(Protocol):
    name: str

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> Completion: ...


class BaseLLM(ABC):
    """Shared behaviour of every backend; subclasses implement `_request`."""

    name: str = "llm"

    def __init__(
        self,
        *,
        max_repairs: int = 2,
        max_retries: int = 3,
        max_concurrency: int = 4,
        timeout_s: float = 300.0,
        default_params: dict[str, Any] | None = None,
    ) -> None:
        self.max_repairs = max_repairs
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.max_concurrency = max_concurrency
        self.default_params = dict(default_params or {})
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self.total_usage = Usage()

    @staticmethod
    def _sampling_defaults(
        kw: dict[str, Any], *, temperature: float, max_tokens: int, seed: int | None
    ) -> dict[str, Any]:
        """A backend constructor's sampling arguments as default chat params (seed None: left out).

        Pops `default_params` from the constructor's `kw`: the caller's explicit defaults win.
        """
        defaults: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens}
        if seed is not None:
            defaults["seed"] = seed
        defaults.update(kw.pop("default_params", None) or {})
        return defaults

    @staticmethod
    def _settings_sampling(cfg: LLMSettings) -> dict[str, Any]:
        """The constructor kwargs every backend's `from_settings` takes from the config alike."""
        return {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens, "seed": cfg.seed}

    def _check_params(self, params: dict[str, Any], allowed: set[str]) -> None:
        """Unknown sampling parameters are a caller bug: refuse them rather than drop them silently."""
        unknown = set(params) - allowed
        if unknown:
            raise LLMRequestError(f"{self.name}: unsupported parameters {sorted(unknown)}")

    def _semaphore(self) -> asyncio.Semaphore:
        # One semaphore per event loop: sync wrappers may run several loops over a backend's life.
        loop_id = id(asyncio.get_running_loop())
        sem = self._semaphores.get(loop_id)
        if sem is None:
            sem = self._semaphores[loop_id] = asyncio.Semaphore(self.max_concurrency)
        return sem

    @abstractmethod
    async def _request(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None,
        tools: list[dict[str, Any]] | None,
        params: dict[str, Any],
    ) -> RawReply:
        """One model request. Raise TransientLLMError for retryable transport failures."""

    async def _request_with_retries(self, messages: list[Message], **kw: Any) -> RawReply:
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            try:
                async with self._semaphore():
                    return await asyncio.wait_for(self._request(messages, **kw), timeout=self.timeout_s)
            except TimeoutError as exc:
                raise LLMTimeoutError(f"{self.name}: no answer within {self.timeout_s:.0f}s") from exc
            except TransientLLMError:
                if attempt >= self.max_retries:
                    raise
                await asyncio.sleep(delay + random.random() * delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        tools: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> Completion:
        convo = [dict(m) for m in messages]
        if not convo:
            raise LLMError("chat() needs at least one message")
        merged = {**self.default_params, **params}
        json_schema = json_schema_of(schema) if schema is not None else None
        usage = Usage()
        raw_texts: list[str] = []
        started = time.perf_counter()
        last_error: Exception | None = None
        for attempt in range(1, self.max_repairs + 2):
            reply = await self._request_with_retries(
                convo, json_schema=json_schema, tools=tools, params=merged
            )
            usage = usage.add(
                Usage(prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens, calls=1)
            )
            raw_texts.append(reply.text)
            if schema is None:
                if reply.text.strip() or reply.tool_calls:
                    return self._finish(reply, None, usage, started, attempt)
                last_error = JSONExtractionError("empty reply")
                convo = [*convo, {"role": "user", "content": "Your reply was empty. Please answer."}]
                continue
            try:
                parsed = parse_structured(reply.text, schema)
                return self._finish(reply, parsed, usage, started, attempt)
            except (JSONExtractionError, ValidationError) as exc:
                last_error = exc
                hint = repair_instruction(exc, schema)
                if reply.finish_reason == "length":
                    hint = "Your reply was cut off (too long). Be much shorter. " + hint
                convo = [
                    *convo,
                    {"role": "assistant", "content": reply.text[:2000]},
                    {"role": "user", "content": hint},
                ]
        what = "schema-valid object" if schema is not None else "non-empty reply"
        raise LLMOutputError(
            f"{self.name}: no {what} after {self.max_repairs + 1} attempts: {last_error}", raw=raw_texts
        )

    def _finish(
        self, reply: RawReply, parsed: Any, usage: Usage, started: float, attempts: int
    ) -> Completion:
        latency = time.perf_counter() - started
        usage = usage.model_copy(update={"latency_s": latency})
        self.total_usage = self.total_usage.add(usage)
        return Completion(
            text=reply.text,
            parsed=parsed,
            tool_calls=reply.tool_calls,
            usage=usage,
            latency_s=latency,
            model=self.name,
            finish_reason=reply.finish_reason,
            attempts=attempts,
        )

    def chat_sync(self, messages: Sequence[Message], **kw: Any) -> Completion:
        """Blocking wrapper for scripts and notebooks (runs the async call to completion)."""
        from agentmem.sync import run_sync

        return run_sync(self.chat(messages, **kw))

    async def aclose(self) -> None:
        """Release resources (HTTP clients, engines); default: nothing to release."""
        return None

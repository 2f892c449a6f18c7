"""Any OpenAI-compatible chat server: OpenAI, vLLM, llama.cpp, Ollama, SGLang (the `openai` package).

Structured output differs by server: OpenAI and vLLM take `response_format={"type": "json_schema"}`,
llama.cpp servers only `{"type": "json_object", "schema": ...}`. With `structured="auto"` the
backend tries json_schema, and on a 400/422 (or llama-cpp-python's 500) that names the
response format it switches (once, for
the life of this instance) to json_object+schema, then to a prompt-only instruction.
Transport failures (connection, 408/409/429, 5xx) become TransientLLMError so BaseLLM retries them
with backoff; the SDK's own retries are disabled so there is exactly one retry policy.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import TYPE_CHECKING, Any, Literal

from agentmem.errors import (
    ConfigError,
    LLMContextLengthError,
    LLMError,
    LLMRequestError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from agentmem.llm.base import BaseLLM, Message, RawReply, TransientLLMError
from agentmem.llm.tool_parsing import parse_text_tool_calls, tool_calls_from_openai, tool_names_of

if TYPE_CHECKING:
    from agentmem.config import LLMSettings

StructuredMode = Literal["auto", "json_schema", "json_object", "prompt"]
_FALLBACK: dict[str, str] = {"json_schema": "json_object", "json_object": "prompt"}

# Parameters the SDK's create() takes by name; any other goes to the server in `extra_body`
# (e.g. vLLM's top_k / repetition_penalty).
_SDK_PARAMS = {
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "n",
    "tool_choice",
    "parallel_tool_calls",
    "user",
}
_TRANSIENT_STATUS = {408, 409, 425, 429}


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        detail = body.get("detail")
        if detail:
            return json.dumps(detail) if not isinstance(detail, str) else detail
    return str(getattr(exc, "message", "") or exc)


def _mentions_response_format(message: str) -> bool:
    low = message.lower()
    return any(k in low for k in ("response_format", "json_schema", "json schema", "response format"))


def _is_context_error(message: str) -> bool:
    low = message.lower()
    return any(k in low for k in ("context length", "context window", "maximum context", "too many tokens"))


class OpenAICompatLLM(BaseLLM):
    """Chat completions against `base_url` (None = api.openai.com)."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        structured: StructuredMode = "auto",
        temperature: float = 0.0,
        max_tokens: int = 512,
        seed: int | None = 0,
        timeout_s: float = 300.0,
        **kw: Any,
    ) -> None:
        defaults = self._sampling_defaults(kw, temperature=temperature, max_tokens=max_tokens, seed=seed)
        super().__init__(default_params=defaults, timeout_s=timeout_s, **kw)
        self.model = model
        self.base_url = base_url
        # Local servers need no key, but the SDK insists on one.
        self.api_key = api_key if api_key is not None else (None if base_url is None else "sk-no-key")
        self.structured_mode: str = "json_schema" if structured == "auto" else structured
        self.auto_fallback = structured == "auto"
        self.name = f"openai:{model}"
        self._clients: dict[int, tuple[weakref.ref[asyncio.AbstractEventLoop], Any]] = {}

    @classmethod
    def from_settings(cls, cfg: LLMSettings, **common: Any) -> OpenAICompatLLM:
        return cls(
            cfg.model,
            base_url=cfg.base_url,
            api_key=cfg.api_key,
            **cls._settings_sampling(cfg),
            **common,
        )

    def _client(self) -> Any:
        """One AsyncOpenAI per event loop (its HTTP pool is bound to the loop that made it)."""
        loop = asyncio.get_running_loop()
        for key, (ref, _client) in list(self._clients.items()):
            alive = ref()
            if alive is None or alive.is_closed():
                del self._clients[key]
        entry = self._clients.get(id(loop))
        if entry is not None and entry[0]() is loop:
            return entry[1]
        try:
            from openai import AsyncOpenAI, OpenAIError
        except ImportError as exc:  # pragma: no cover - openai is a core dependency
            raise LLMUnavailableError("the `openai` package is missing: pip install openai") from exc
        try:
            client = AsyncOpenAI(
                base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=0
            )
        except OpenAIError as exc:
            raise ConfigError(
                f"{self.name}: {exc} (set AGENTMEM_LLM__API_KEY, or AGENTMEM_LLM__BASE_URL for a local server)"
            ) from exc
        self._clients[id(loop)] = (weakref.ref(loop), client)
        return client

    def _request_kwargs(
        self,
        messages: list[Message],
        json_schema: dict[str, Any] | None,
        tools: list[dict[str, Any]] | None,
        params: dict[str, Any],
        mode: str,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model}
        extra = {k: v for k, v in params.items() if k not in _SDK_PARAMS}
        kwargs.update({k: v for k, v in params.items() if k in _SDK_PARAMS})
        if extra:
            kwargs["extra_body"] = extra
        if tools:
            kwargs["tools"] = tools
            # llama.cpp's function-calling format ignores tools unless tool_choice is set.
            kwargs.setdefault("tool_choice", "auto")
        if json_schema is not None:
            if mode == "json_schema":
                name = str(json_schema.get("title") or "reply")[:64]
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": json_schema, "strict": False},
                }
            elif mode == "json_object":
                kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
            else:
                hint = "Reply with ONLY one JSON object matching this JSON schema:\n" + json.dumps(
                    json_schema, separators=(",", ":")
                )
                messages = [*messages, {"role": "system", "content": hint}]
        kwargs["messages"] = messages
        return kwargs

    async def _request(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None,
        tools: list[dict[str, Any]] | None,
        params: dict[str, Any],
    ) -> RawReply:
        import openai

        client = self._client()
        while True:
            mode = self.structured_mode
            kwargs = self._request_kwargs(messages, json_schema, tools, params, mode)
            try:
                resp = await client.chat.completions.create(**kwargs)
                break
            except openai.APITimeoutError as exc:
                raise LLMTimeoutError(f"{self.name}: no answer within {self.timeout_s:.0f}s") from exc
            except openai.APIConnectionError as exc:
                raise TransientLLMError(
                    f"{self.name}: cannot reach {self.base_url or 'api.openai.com'}: {exc}"
                ) from exc
            except openai.APIStatusError as exc:
                status, message = exc.status_code, _server_message(exc)
                if (
                    json_schema is not None
                    and self.auto_fallback
                    # llama-cpp-python's server reports its request-validation error as a 500.
                    and status in (400, 422, 500)
                    and mode in _FALLBACK
                    and _mentions_response_format(message)
                ):
                    self.structured_mode = _FALLBACK[mode]
                    continue
                raise _map_status(self.name, status, message) from exc
        return self._to_reply(resp, tools)

    def _to_reply(self, resp: Any, tools: list[dict[str, Any]] | None) -> RawReply:
        if not getattr(resp, "choices", None):
            raise LLMError(f"{self.name}: the server returned no choices")
        choice = resp.choices[0]
        message = choice.message
        text = message.content or ""
        calls = tool_calls_from_openai(message.tool_calls)
        finish = choice.finish_reason
        if tools and not calls:
            text, calls = parse_text_tool_calls(text, tool_names_of(tools))
            if calls:
                finish = "tool_calls"
        usage = resp.usage
        return RawReply(
            text=text,
            tool_calls=calls,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=finish,
        )

    async def list_models(self) -> list[str]:
        """Model ids the server offers (a cheap liveness check)."""
        import openai

        try:
            page = await self._client().models.list()
        except openai.APIConnectionError as exc:
            raise LLMUnavailableError(f"{self.name}: cannot reach {self.base_url}: {exc}") from exc
        except openai.APIStatusError as exc:
            raise _map_status(self.name, exc.status_code, _server_message(exc)) from exc
        return [m.id for m in page.data]

    async def aclose(self) -> None:
        """Close this loop's client; clients of other (finished) loops are just dropped."""
        entries = list(self._clients.items())
        self._clients.clear()
        current = asyncio.get_running_loop()
        for _key, (ref, client) in entries:
            if ref() is current:
                await client.close()


def _map_status(name: str, status: int, message: str) -> LLMError:
    text = f"{name}: HTTP {status}: {message}"
    if status in _TRANSIENT_STATUS or status >= 500:
        return TransientLLMError(text)
    if _is_context_error(message):
        return LLMContextLengthError(text, status=status)
    return LLMRequestError(text, status=status)

"""OpenAICompatLLM against a real local HTTP server speaking the OpenAI chat API.

The server is a scripted stdlib HTTP server on 127.0.0.1: each request pops the next (status, body)
and is recorded, so error mapping, retries and the structured-output fallback are observed on the wire.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel

from agentmem.errors import LLMContextLengthError, LLMRequestError
from agentmem.llm.base import TransientLLMError
from agentmem.llm.openai_compat import OpenAICompatLLM
from agentmem.llm.serve import free_port

USER = [{"role": "user", "content": "hi"}]


class City(BaseModel):
    name: str
    population: int


def completion(content: str | None, *, tool_calls: list[dict] | None = None, finish: str = "stop") -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def error(status: int, message: str) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": "invalid_request_error", "code": status}}


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: list[tuple[int, dict]] = []
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                outer.requests.append(
                    {"path": self.path, "body": json.loads(self.rfile.read(length) or b"{}")}
                )
                status, body = outer.script.pop(0) if outer.script else error(500, "script exhausted")
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    srv = FakeOpenAI()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    real_sleep = asyncio.sleep
    monkeypatch.setattr("agentmem.llm.base.asyncio.sleep", lambda _d: real_sleep(0))


def make(server: FakeOpenAI, **kw: Any) -> OpenAICompatLLM:
    return OpenAICompatLLM("m", base_url=server.base_url, timeout_s=10, **kw)


async def test_plain_chat_maps_text_usage_and_params(server):
    server.script = [(200, completion("hello"))]
    llm = make(server, max_tokens=33)
    out = await llm.chat(USER, top_k=5)
    assert out.text == "hello" and out.finish_reason == "stop"
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (11, 7)
    body = server.requests[0]["body"]
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert body["model"] == "m" and body["max_tokens"] == 33 and body["temperature"] == 0.0
    assert body["top_k"] == 5  # non-OpenAI params travel in the body (extra_body)
    await llm.aclose()


async def test_json_schema_then_fallback_to_json_object_and_remembered(server):
    server.script = [
        error(400, "response_format: json_schema is not supported"),
        (200, completion('{"name": "Tokyo", "population": 14000000}')),
        (200, completion('{"name": "Osaka", "population": 2700000}')),
    ]
    llm = make(server)
    out = await llm.chat(USER, schema=City)
    assert out.parsed == City(name="Tokyo", population=14000000)
    first, second = (r["body"]["response_format"] for r in server.requests[:2])
    assert first["type"] == "json_schema" and first["json_schema"]["schema"]["title"] == "City"
    assert second == {"type": "json_object", "schema": City.model_json_schema()}
    await llm.chat(USER, schema=City)
    assert server.requests[2]["body"]["response_format"]["type"] == "json_object"
    assert llm.structured_mode == "json_object"


async def test_fallback_down_to_prompt_mode(server):
    server.script = [
        error(400, "unknown response_format json_schema"),
        (422, {"detail": [{"loc": ["body", "response_format"], "msg": "bad response_format"}]}),
        (200, completion('{"name": "Paris", "population": 2100000}')),
    ]
    llm = make(server)
    out = await llm.chat(USER, schema=City)
    assert out.parsed.name == "Paris"
    last = server.requests[2]["body"]
    assert "response_format" not in last
    assert last["messages"][-1]["role"] == "system" and '"population"' in last["messages"][-1]["content"]


async def test_malformed_reply_is_repaired_through_the_server(server):
    server.script = [
        (200, completion('{"name": "Rome"')),
        (200, completion('{"name": "Rome", "population": 1}')),
    ]
    llm = make(server, structured="json_object")
    out = await llm.chat(USER, schema=City)
    assert out.attempts == 2 and out.parsed.population == 1
    assert server.requests[1]["body"]["messages"][-1]["role"] == "user"  # the repair instruction


async def test_5xx_and_429_are_retried(server):
    server.script = [error(503, "overloaded"), error(429, "slow down"), (200, completion("finally"))]
    llm = make(server, max_retries=3)
    out = await llm.chat(USER)
    assert out.text == "finally" and len(server.requests) == 3


async def test_retries_exhausted_raise_transient(server):
    server.script = [error(500, "boom")] * 3
    llm = make(server, max_retries=2)
    with pytest.raises(TransientLLMError, match="boom"):
        await llm.chat(USER)
    assert len(server.requests) == 3


async def test_auth_error_not_retried_and_keeps_server_message(server):
    server.script = [error(401, "Invalid API key provided")]
    llm = make(server)
    with pytest.raises(LLMRequestError, match="Invalid API key provided") as info:
        await llm.chat(USER)
    assert info.value.status == 401 and len(server.requests) == 1


async def test_context_length_error_is_typed(server):
    server.script = [error(400, "This model's maximum context length is 4096 tokens")]
    with pytest.raises(LLMContextLengthError):
        await make(server).chat(USER)


async def test_tool_calls_are_mapped(server):
    call = {"id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "faiss"}'}}
    server.script = [(200, completion(None, tool_calls=[call], finish="tool_calls"))]
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    out = await make(server).chat(USER, tools=tools)
    assert out.tool_calls[0].model_dump() == {"id": "call_9", "name": "lookup", "arguments": {"q": "faiss"}}
    body = server.requests[0]["body"]
    assert body["tools"] == tools and body["tool_choice"] == "auto"


async def test_tool_calls_written_as_text_are_parsed(server):
    text = '<tool_call>\n{"name": "lookup", "arguments": {"q": "x"}}\n</tool_call>'
    server.script = [(200, completion(text))]
    tools = [{"type": "function", "function": {"name": "lookup"}}]
    out = await make(server).chat(USER, tools=tools)
    assert out.tool_calls[0].name == "lookup" and out.finish_reason == "tool_calls"


async def test_connection_refused_is_transient_and_names_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = OpenAICompatLLM("m", base_url=url, timeout_s=5, max_retries=1)
    with pytest.raises(TransientLLMError, match="cannot reach"):
        await llm.chat(USER)


async def test_no_choices_is_an_error(server):
    body = completion("x")
    body["choices"] = []
    server.script = [(200, body)]
    with pytest.raises(Exception, match="no choices"):
        await make(server).chat(USER)


def test_sync_wrapper_uses_a_client_per_loop(server):
    server.script = [(200, completion("a")), (200, completion("b"))]
    llm = make(server)
    assert llm.chat_sync(USER).text == "a"
    assert llm.chat_sync(USER).text == "b"  # a second asyncio.run: a fresh client, no closed-loop error

"""Recover tool calls that a model wrote as text (Qwen/Hermes `<tool_call>{...}</tool_call>` blocks).

Why: llama.cpp renders `tools` through the GGUF chat template, but with `tool_choice="auto"` it
returns the model's text unparsed; Qwen2.5 writes its calls as tagged JSON in that text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentmem.llm.base import ToolCall
from agentmem.llm.structured import JSONExtractionError, extract_json

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def _to_call(obj: Any, index: int) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    fn = obj.get("function") if isinstance(obj.get("function"), dict) else obj
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        return None
    args = fn.get("arguments", fn.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            args = {"_raw": args}
    if not isinstance(args, dict):
        args = {"value": args}
    return ToolCall(id=f"call_{index}", name=name, arguments=args)


def parse_text_tool_calls(text: str, tool_names: set[str]) -> tuple[str, list[ToolCall]]:
    """Split `text` into (remaining prose, tool calls). Only names in `tool_names` count as calls."""
    calls: list[ToolCall] = []
    for i, body in enumerate(_TAGGED.findall(text or "")):
        try:
            call = _to_call(extract_json(body), i)
        except JSONExtractionError:
            continue
        if call is not None and call.name in tool_names:
            calls.append(call)
    if calls:
        return _TAGGED.sub("", text).strip(), calls
    # Some small models skip the tags and answer with a bare {"name":..., "arguments":...} object.
    stripped = (text or "").strip()
    if stripped.startswith(("{", "```")):
        try:
            call = _to_call(extract_json(stripped), 0)
        except JSONExtractionError:
            call = None
        if call is not None and call.name in tool_names:
            return "", [call]
    return text, []


def tool_names_of(tools: list[dict[str, Any]] | None) -> set[str]:
    names: set[str] = set()
    for tool in tools or []:
        fn = tool.get("function", tool)
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.add(fn["name"])
    return names


def tool_calls_from_openai(raw_calls: list[Any] | None) -> list[ToolCall]:
    """Map OpenAI-shaped tool calls (dicts or SDK objects) to ToolCall; bad argument JSON is kept raw."""
    out: list[ToolCall] = []
    for i, call in enumerate(raw_calls or []):
        data = call if isinstance(call, dict) else call.model_dump()
        fn = data.get("function") or {}
        args_text = fn.get("arguments") or "{}"
        if isinstance(args_text, dict):
            args = args_text
        else:
            try:
                args = json.loads(args_text)
            except json.JSONDecodeError:
                args = {"_raw": args_text}
            if not isinstance(args, dict):
                args = {"value": args}
        out.append(ToolCall(id=data.get("id") or f"call_{i}", name=fn.get("name", ""), arguments=args))
    return out

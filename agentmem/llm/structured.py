"""Turn a model's text into a validated pydantic object, repairing the usual damage."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class JSONExtractionError(ValueError):
    """No JSON value could be recovered from the text."""


def _outside_strings(text: str, start: int) -> Iterator[tuple[int, str]]:
    """The characters from `start` that stand outside JSON strings (quotes and escapes honoured)."""
    in_str = escape = False
    for pos in range(start, len(text)):
        ch = text[pos]
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        else:
            yield pos, ch


def _balanced_span(text: str, start: int) -> str | None:
    """The balanced {...} or [...] starting at `start`, honouring strings; None if unbalanced."""
    closer = "}" if text[start] == "{" else "]"
    depth = 0
    for pos, ch in _outside_strings(text, start):
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[start : pos + 1] if ch == closer else None
    return None


def _close_truncated(text: str, start: int) -> str | None:
    """A reply cut off mid-object (the token limit), closed after its last complete member:
    `{"tool": "x", "args": {"a": 1}, "result": "a long te` -> `{"tool": "x", "args": {"a": 1}}`.
    None when the object is not truncated or no member ended before the cut."""
    closers: list[str] = []
    cut: tuple[int, list[str]] | None = None
    for pos, ch in _outside_strings(text, start):
        if ch in "{[":
            closers.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not closers or closers.pop() != ch or not closers:
                return None  # mismatched, or balanced: not a truncation
        elif ch == "," and closers:
            cut = (pos, list(closers))
    if cut is None:
        return None
    pos, open_closers = cut
    return text[start:pos] + "".join(reversed(open_closers))


def _loads_lenient(candidate: str) -> Any:
    try:
        # strict=False: constrained decoding lets raw newlines/tabs into strings (code, quoted text)
        return json.loads(candidate, strict=False)
    except json.JSONDecodeError:
        pass
    fixed = _TRAILING_COMMA.sub(r"\1", candidate)
    try:
        return json.loads(fixed, strict=False)
    except json.JSONDecodeError:
        pass
    try:  # Python-literal style: single quotes, True/False/None
        value = ast.literal_eval(fixed)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise JSONExtractionError(str(exc)) from exc
    if isinstance(value, dict | list):
        return value
    raise JSONExtractionError("not an object or array")


def extract_json(text: str) -> Any:
    """Recover the first JSON object/array from a reply (code fences, prose around it, trailing commas,
    raw control characters in strings, an object cut off by the token limit)."""
    if not text or not text.strip():
        raise JSONExtractionError("empty reply")
    candidates: list[str] = [m.strip() for m in _FENCE.findall(text)]
    candidates.append(text.strip())
    for cand in candidates:
        try:
            return _loads_lenient(cand)
        except JSONExtractionError:
            pass
        outermost = True
        for start, ch in enumerate(cand):
            if ch in "{[":
                span = _balanced_span(cand, start)
                if span is None and outermost:
                    # the reply's own object was cut off: its complete members beat an inner object
                    # (the args of a tool call parsed as if they were the whole reply)
                    span = _close_truncated(cand, start)
                outermost = False
                if span is None:
                    continue
                try:
                    return _loads_lenient(span)
                except JSONExtractionError:
                    continue
    raise JSONExtractionError("no JSON object found (truncated or malformed reply)")


def parse_structured(text: str, schema: type[M]) -> M:
    """Extract and validate; raises JSONExtractionError or pydantic.ValidationError."""
    value = extract_json(text)
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    return schema.model_validate(value)


@lru_cache(maxsize=256)
def json_schema_of(schema: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a model class, computed once per class (hot path of every structured call).

    Callers must not mutate the returned dict.
    """
    return schema.model_json_schema()


def repair_instruction(error: Exception, schema: type[BaseModel]) -> str:
    """The message sent back to the model after a malformed reply."""
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()[:8]
        )
        what = f"Your JSON did not match the schema: {problems}."
    else:
        what = f"Your reply was not valid JSON ({error})."
    return (
        f"{what} Reply again with ONLY one JSON object that matches this JSON schema, no prose:\n"
        + json.dumps(json_schema_of(schema), separators=(",", ":"))
    )

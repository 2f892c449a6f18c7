"""Map one instance of a question or goal template onto another: which entities changed, and the old
instance's actions rewritten with the new ones.

Shared by the agents that replay or show a remembered instance of the same kind of task (the web
navigator's exemplars, the deep-research agent's worked cases): a small model follows a concrete,
already adapted example far more reliably than it adapts one itself.
"""

from __future__ import annotations

import difflib
import re

_ENTITY = re.compile(r'"[^"]+"|\'[^\']+\'|\d[\d.,:/-]*|\S+')
_STRIP = "\"'.,;:!?()[]"


def _tokens(text: str) -> list[str]:
    return _ENTITY.findall(text)


def goal_mapping(old_goal: str, new_goal: str) -> dict[str, str]:
    """Entities that changed between two goals of one template: {"Kasie": "Jerrie", "3": "5"}."""
    a, b = _tokens(old_goal), _tokens(new_goal)
    mapping: dict[str, str] = {}
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op != "replace":
            continue
        old, new = a[i1:i2], b[j1:j2]
        pairs = zip(old, new, strict=True) if len(old) == len(new) else [(" ".join(old), " ".join(new))]
        for o, n in pairs:
            o, n = o.strip(_STRIP), n.strip(_STRIP)
            if o and o != n:
                mapping[o] = n
    return mapping


def adapt(text: str, mapping: dict[str, str]) -> str:
    """Rewrite `text` with the new goal's entities (longest first, whole-token matches)."""
    if not mapping or not text:
        return text
    keys = sorted(mapping, key=len, reverse=True)
    pattern = re.compile("|".join(rf"(?<![\w]){re.escape(k)}(?![\w])" for k in keys))
    return pattern.sub(lambda m: mapping[m.group(0)], text)


def template_similarity(old_goal: str, new_goal: str) -> float:
    """How much of two goals' token sequences line up (difflib ratio): 1.0 for the same wording."""
    return difflib.SequenceMatcher(a=_tokens(old_goal), b=_tokens(new_goal), autojunk=False).ratio()


def describe_mapping(mapping: dict[str, str]) -> str:
    """The swaps, for a prompt that shows an adapted instance: "American Steel -> IBM, 1942 -> 1940"."""
    return ", ".join(f"{old} -> {new}" for old, new in mapping.items())

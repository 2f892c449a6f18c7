"""Map one instance of a question or goal template onto another: which entities changed, and the old
instance's actions rewritten with the new ones.

Shared by the agents that replay or show a remembered instance of the same kind of task (the web
navigator's exemplars, the deep-research agent's worked cases): a small model follows a concrete,
already adapted example far more reliably than it adapts one itself.
"""

from __future__ import annotations

import difflib
import re

_ENTITY = re.compile(r'"[^"]+"|\'[^\']+\'|\d[\d.,:/-]*(?!\w)|\S+')  # "7v" is one token, "1942," a number
STRIP_CHARS = "\"'.,;:!?()[]"  # punctuation around a goal's word
_CONNECTORS = {"and", "or", "&"}
EMPTY_LIST_WORDS = frozenset({"nothing", "none"})  # "Select nothing and click Submit": no items


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
            o, n = o.strip(STRIP_CHARS), n.strip(STRIP_CHARS)
            if o and o != n:
                mapping[o] = n
    return mapping


def list_swaps(old_goal: str, new_goal: str) -> list[tuple[list[str], list[str]]]:
    """Entity lists that changed length between two goals of one template ("Select A, B and click
    Submit" -> "Select C, D, E and click Submit": (["A", "B"], ["C", "D", "E"])). `goal_mapping` can
    only swap values one for one; a list that grew or shrank needs its per-item steps repeated."""
    a, b = _tokens(old_goal), _tokens(new_goal)
    swaps = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if not (_is_list(a[i1:i2]) or _is_list(b[j1:j2])):
            continue  # "Miguelita" -> "New Zealand" is one value in two words: goal_mapping's job
        old, new = _items(a[i1:i2]), _items(b[j1:j2])
        if len(old) != len(new):
            swaps.append((old, new))
    return swaps


def _is_empty(items: list[str]) -> bool:
    return len(items) == 1 and items[0].lower() in EMPTY_LIST_WORDS


def _is_list(tokens: list[str]) -> bool:
    inner = tokens[:-1]
    return (
        any(t.endswith(",") for t in inner)
        or any(t.lower() in _CONNECTORS for t in tokens)
        or _is_empty([t.strip(STRIP_CHARS) for t in tokens])
    )


def _items(tokens: list[str]) -> list[str]:
    items = [t for t in (t.strip(STRIP_CHARS) for t in tokens) if t and t.lower() not in _CONNECTORS]
    return [] if _is_empty(items) else items


def adapt(text: str, mapping: dict[str, str], *, ignore_case: bool = False) -> str:
    """Rewrite `text` with the new goal's entities (longest first, whole-token matches).

    `ignore_case`: also where the page or a typed text wrote an entity in another case (the goal's
    "Like" button is the element `.like`; "horror" movies typed as "Horror"); the new entity then
    takes that case (lower, upper, or a capital first letter).
    """
    if not mapping or not text:
        return text
    keys = sorted(mapping, key=len, reverse=True)
    flags = re.IGNORECASE if ignore_case else 0
    pattern = re.compile("|".join(rf"(?<![\w]){re.escape(k)}(?![\w])" for k in keys), flags)
    folded = {k.casefold(): v for k, v in mapping.items()}

    def repl(m: re.Match[str]) -> str:
        found = m.group(0)
        if found in mapping:
            return mapping[found]
        new = folded[found.casefold()]
        if found.islower():
            return new.lower()
        if found.isupper() and len(found) > 1:
            return new.upper()
        return new[:1].upper() + new[1:] if found[:1].isupper() and new.islower() else new

    return pattern.sub(repl, text)


def template_similarity(old_goal: str, new_goal: str) -> float:
    """How much of two goals' token sequences line up (difflib ratio): 1.0 for the same wording."""
    return difflib.SequenceMatcher(a=_tokens(old_goal), b=_tokens(new_goal), autojunk=False).ratio()


def describe_mapping(mapping: dict[str, str]) -> str:
    """The swaps, for a prompt that shows an adapted instance: "American Steel -> IBM, 1942 -> 1940"."""
    return ", ".join(f"{old} -> {new}" for old, new in mapping.items())

"""Scoring whole continuations: how likely the model finds each of a few candidate replies.

Why: grammar-constrained decoding picks a reply token by token, so where a choice is left out the
first token that still fits wins, not the likeliest whole choice. Qwen writes numbers digit by digit:
with element 1 left out, the greedy "1" still fits "10".."19", and the redraw lands there (seen on
email-inbox, social-media and click-tab-2 pages: click [1] left out -> click [17], [11], [10]).
Scoring each candidate string as a whole ranks choices by the model's own probability of them.

`sequence_logprobs` walks the candidates' token sequences as a trie, so a shared prefix (the JSON up
to the element number) is evaluated once; a backend supplies `next_logprobs` for a token path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from agentmem.llm.base import Message


@runtime_checkable
class ContinuationScorer(Protocol):
    """A backend that can say how likely each candidate start of the assistant's reply is."""

    async def score_continuations(
        self, messages: Sequence[Message], continuations: Sequence[str]
    ) -> list[float]:
        """Log-probability of each string as the beginning of the reply to `messages`, up to a
        constant shared by all of them (their common token prefix is left out)."""
        ...


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every sequence shares."""
    if not seqs:
        return 0
    n = min(len(s) for s in seqs)
    for i in range(n):
        tok = seqs[0][i]
        if any(s[i] != tok for s in seqs):
            return i
    return n


def sequence_logprobs(
    seqs: Sequence[Sequence[int]],
    next_logprobs: Callable[[list[int]], Any],
) -> list[float]:
    """Sum of token log-probabilities of each sequence after the tokens all of them share.

    `next_logprobs(tokens)` gives the log-probabilities of the token after `tokens` (indexable by
    token id); it is asked once per distinct prefix, depth first, so a backend with a KV cache only
    ever extends or truncates its last state.
    """
    root = common_prefix_len(seqs)
    scores = [0.0] * len(seqs)
    shared = list(seqs[0][:root]) if seqs else []
    rest = [list(s[root:]) for s in seqs]

    def walk(path: list[int], members: list[int]) -> None:
        logprobs = next_logprobs(shared + path)
        depth = len(path)
        branches: dict[int, list[int]] = defaultdict(list)
        for i in members:
            branches[rest[i][depth]].append(i)
        for tok, group in branches.items():
            for i in group:
                scores[i] += float(logprobs[tok])
            deeper = [i for i in group if len(rest[i]) > depth + 1]
            if deeper:
                walk([*path, tok], deeper)

    start = [i for i, r in enumerate(rest) if r]
    if start:
        walk([], start)
    return scores


__all__ = ["ContinuationScorer", "common_prefix_len", "sequence_logprobs"]

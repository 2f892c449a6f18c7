"""A redraw by the model's probability of whole choices, for backends that score continuations.

Why: grammar-constrained decoding takes a reply token by token. With element 1 left out, the
greedy "1" still fits "10".."19", so the model's "next choice" landed on those (stop 26 probe, real
MiniWoB pages: click [1] left out -> click [17] on email-inbox and social-media, [10] on click-tab-2).
Here the kind is the model's likeliest with a choice left (as decoding picks it), and the element
the one whose whole number it finds likeliest (`id_openings`), both scored as the model would write
them (`agentmem.llm.scoring`); only a kind that needs text asks the model for the rest. (Ranking
kinds by the mass left once the left-out choices are taken away favoured kinds with no element,
scroll above all, and a click on the username box over typing the password: stop 26 probe.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from agentmem.agents.web_explore import (
    TEXTLESS,
    Choice,
    choice_schema,
    draw_from,
    id_openings,
    kind_opening,
    listed_ids,
    logsumexp,
    schema_model,
)
from agentmem.envs.base import Observation
from agentmem.envs.web import NEEDS_ID, ActionName, WebAction
from agentmem.llm.base import Completion, Message
from agentmem.llm.scoring import ContinuationScorer


@dataclass
class ChoiceScores:
    """Log-probabilities the model gave one step's choices, kept across the step's draws (the
    prompt is the same; only what is left out grows)."""

    kinds: dict[str, float] = field(default_factory=dict)
    ids: dict[str, dict[int, float]] = field(default_factory=dict)


async def _kind_scores(
    llm: ContinuationScorer, messages: list[Message], written: str, cache: ChoiceScores
) -> dict[str, float]:
    if not cache.kinds:
        kinds = list(get_args(ActionName))
        scores = await llm.score_continuations(messages, [kind_opening(k, written) for k in kinds])
        cache.kinds = dict(zip(kinds, scores, strict=True))
    return cache.kinds


async def _id_scores(
    llm: ContinuationScorer,
    messages: list[Message],
    kind: str,
    ids: list[int],
    written: str,
    cache: ChoiceScores,
) -> dict[int, float]:
    """Each listed element's log-probability for `kind`, given that kind (its openings summed)."""
    if kind not in cache.ids:
        openings = id_openings(kind, ids, written)
        flat = [(i, text) for i, texts in openings.items() for text in texts]
        scores = await llm.score_continuations(messages, [text for _, text in flat])
        per: dict[int, list[float]] = {}
        for (i, _), score in zip(flat, scores, strict=True):
            per.setdefault(i, []).append(score)
        merged = {i: logsumexp(s) for i, s in per.items()}
        total = logsumexp(list(merged.values()))
        cache.ids[kind] = {i: lp - total for i, lp in merged.items()}
    return cache.ids[kind]


async def ranked_choice(
    llm: ContinuationScorer,
    messages: list[Message],
    obs: Observation,
    written: str,
    banned: set[Choice],
    *,
    temperature: float,
    seed: int,
    cache: ChoiceScores,
) -> Choice | None:
    """The model's next choice among those not left out, as grammar-constrained decoding makes it
    (the likeliest kind that has a choice left, then its likeliest element) but with each element's
    whole number scored; at `temperature` both are drawn from the model's probabilities. None when
    nothing is left."""
    ids = listed_ids(obs)
    kinds = await _kind_scores(llm, messages, written, cache)
    open_kinds = {
        kind: lp
        for kind, lp in kinds.items()
        if (kind in NEEDS_ID and any((kind, i) not in banned for i in ids))
        or (kind not in NEEDS_ID and (kind, None) not in banned)
    }
    if not open_kinds:
        return None
    kind = draw_from(open_kinds, temperature, seed)
    if kind not in NEEDS_ID:
        return (kind, None)
    scores = await _id_scores(llm, messages, kind, ids, written, cache)
    left = {i: scores[i] for i in ids if (kind, i) not in banned}
    return (kind, draw_from(left, temperature, seed + 1))


async def complete_choice(
    llm: Any, messages: list[Message], choice: Choice, banned: set[Choice], **params: Any
) -> tuple[WebAction, Completion | None]:
    """The action for a drawn choice: as it is for a kind that needs no text (a click), else the
    model writes the text with kind and element fixed by the schema. Raises LLMOutputError where
    no valid text comes back."""
    kind, element = choice
    if kind in TEXTLESS:
        return WebAction(action=kind, id=element), None
    fixed = schema_model(choice_schema(choice), banned)
    completion = await llm.chat(messages, schema=fixed, **params)
    # a model not held to the schema may name another element: the drawn choice is what stands
    written = {**completion.parsed.model_dump(), "action": kind, "id": element}
    return WebAction.model_validate(written), completion


__all__ = ["ChoiceScores", "complete_choice", "ranked_choice"]

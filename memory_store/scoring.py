"""Re-ranking of vector candidates: a pluggable `Scorer`, the default blend, and MMR diversity."""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel

from agentmem.types import MemoryItem, ScoreParts

SECONDS_PER_DAY = 86_400.0


@runtime_checkable
class Scorer(Protocol):
    """Turns a candidate's cosine similarity and its stats into explained score parts."""

    def score(self, similarity: float, item: MemoryItem, now: float) -> ScoreParts: ...


class WeightedScorer(BaseModel):
    """final = w_sim·similarity + w_rec·recency + w_util·utility.

    recency = 0.5 ** (age / half-life), age since last use (else creation);
    utility = Bayesian mean of rewards: (reward_sum + prior_mean·prior_weight) / (reward_count + prior_weight),
    so an item used once with a lucky reward does not outrank a proven one.
    """

    w_similarity: float = 0.8
    w_recency: float = 0.1
    w_utility: float = 0.1
    half_life_days: float = 30.0
    prior_mean: float = 0.5
    prior_weight: float = 2.0

    def recency(self, item: MemoryItem, now: float) -> float:
        ref = item.last_used_at or item.created_at
        age_days = max(0.0, now - ref.timestamp()) / SECONDS_PER_DAY
        return math.pow(0.5, age_days / self.half_life_days) if self.half_life_days > 0 else 1.0

    def utility(self, item: MemoryItem) -> float:
        return (item.reward_sum + self.prior_mean * self.prior_weight) / (
            item.reward_count + self.prior_weight
        )

    def score(self, similarity: float, item: MemoryItem, now: float) -> ScoreParts:
        recency = self.recency(item, now)
        utility = self.utility(item)
        final = self.w_similarity * similarity + self.w_recency * recency + self.w_utility * utility
        return ScoreParts(similarity=similarity, recency=recency, utility=utility, final=final)


def mmr_order(relevance: list[float], vectors: np.ndarray, lam: float, k: int) -> list[tuple[int, float]]:
    """Greedy maximal marginal relevance: pick by lam·rel − (1−lam)·max-sim-to-picked.

    Returns (candidate index, penalty) pairs in pick order; the penalty is (1−lam)·max-sim.
    """
    n = len(relevance)
    if n == 0:
        return []
    sims = vectors @ vectors.T
    picked: list[tuple[int, float]] = []
    max_sim = np.full(n, -np.inf)
    remaining = set(range(n))
    while remaining and len(picked) < k:
        best, best_val, best_pen = -1, -np.inf, 0.0
        for i in remaining:
            pen = (1.0 - lam) * (max_sim[i] if picked else 0.0)
            val = lam * relevance[i] - pen
            if val > best_val:
                best, best_val, best_pen = i, val, pen
        picked.append((best, float(best_pen)))
        remaining.discard(best)
        max_sim = np.maximum(max_sim, sims[best])
    return picked

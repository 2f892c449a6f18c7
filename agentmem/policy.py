"""Case-selection policies: which retrieved memories deserve to be shown to the agent.

`SimilarityPolicy` is non-parametric (similarity + recency + utility, the store's own signals).
`LearnedPolicy` is an online logistic model Q(query, case) ≈ P(the episode succeeds | this case was
used), trained from the rewards that follow each use — a single-step soft-Q update in the spirit of
Memento's case-selection M-MDP (with one decision per episode the soft-Q target is the reward itself).
Before it has seen data it ranks like similarity, so switching it on never starts from noise.
It persists as one small JSON file per namespace (weights + a bounded replay log for the bench).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from agentmem.errors import ConfigError
from agentmem.types import SearchHit

FEATURES: tuple[str, ...] = (
    "bias",
    "similarity",
    "similarity_sq",
    "recency",
    "utility",
    "mean_reward",
    "has_reward",
    "log_uses",
    "same_env",
    "kind_episode",
    "kind_concept",
    "kind_insight",
    "item_success",
    "sim_x_success",
    "sim_x_reward",
)


class PolicyQuery(BaseModel):
    """What the policy knows about the situation a case would be used in."""

    text: str
    env: str | None = None
    task_id: str | None = None


@dataclass
class Ranked:
    hit: SearchHit
    score: float
    features: list[float]
    scoped: bool = False  # in the agent's own scope (see `Coach.recall`): shown whatever its score


def case_features(query: PolicyQuery, hit: SearchHit) -> list[float]:
    """Query/case features in FEATURES order; all roughly in [-1, 1] so one learning rate fits all."""
    item, parts = hit.item, hit.parts
    sim = float(parts.similarity)
    count = item.reward_count
    mean_reward = (item.reward_sum / count) if count else 0.5
    success = item.payload.get("success")
    success_sign = 1.0 if success is True else (-1.0 if success is False else 0.0)
    same_env = 1.0 if query.env is not None and item.payload.get("env") == query.env else 0.0
    return [
        1.0,
        sim,
        sim * sim,
        float(parts.recency),
        float(parts.utility),
        mean_reward,
        1.0 if count else 0.0,
        math.log1p(item.uses) / 5.0,
        same_env,
        1.0 if item.kind == "episode" else 0.0,
        1.0 if item.kind == "concept" else 0.0,
        1.0 if item.kind == "insight" else 0.0,
        success_sign,
        sim * success_sign,
        sim * (mean_reward - 0.5),
    ]


@runtime_checkable
class Policy(Protocol):
    name: str
    default_threshold: float

    def rank(self, query: PolicyQuery, candidates: list[SearchHit]) -> list[Ranked]: ...

    def update(self, examples: list[tuple[list[float], float]]) -> None: ...

    def save(self) -> None: ...


def _sorted(ranked: list[Ranked]) -> list[Ranked]:
    return sorted(ranked, key=lambda r: r.score, reverse=True)


class SimilarityPolicy:
    """Similarity + recency + utility with fixed weights; learns nothing (update/save are no-ops)."""

    name = "similarity"
    default_threshold = 0.35

    def __init__(self, w_similarity: float = 0.75, w_recency: float = 0.1, w_utility: float = 0.15):
        self.weights = (w_similarity, w_recency, w_utility)

    def score(self, hit: SearchHit) -> float:
        ws, wr, wu = self.weights
        return ws * hit.parts.similarity + wr * hit.parts.recency + wu * hit.parts.utility

    def rank(self, query: PolicyQuery, candidates: list[SearchHit]) -> list[Ranked]:
        return _sorted([Ranked(h, self.score(h), case_features(query, h)) for h in candidates])

    def update(self, examples: list[tuple[list[float], float]]) -> None:
        return None

    def save(self) -> None:
        return None


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


class LearnedPolicy:
    """Online logistic Q-model over case features, AdaGrad steps, L2; thread-safe; JSON-persisted."""

    name = "learned"
    default_threshold = 0.3
    version = 1

    def __init__(
        self,
        path: Path | None = None,
        *,
        lr: float = 0.3,
        l2: float = 1e-3,
        max_log: int = 5000,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.lr = lr
        self.l2 = l2
        self.max_log = max_log
        self.w = self._prior()
        self.g2 = [1e-6] * len(FEATURES)
        self.n_updates = 0
        self.log: list[list[float]] = []  # [features..., reward] in arrival order, for replay benches
        self._lock = threading.Lock()
        if self.path is not None and self.path.exists():
            self._load(self.path)

    @staticmethod
    def _prior() -> list[float]:
        """Start as a monotone function of similarity (≈ SimilarityPolicy's order)."""
        w = [0.0] * len(FEATURES)
        w[FEATURES.index("bias")] = -2.0
        w[FEATURES.index("similarity")] = 4.0
        w[FEATURES.index("utility")] = 0.5
        return w

    def q(self, features: list[float]) -> float:
        return _sigmoid(sum(wi * xi for wi, xi in zip(self.w, features, strict=True)))

    def rank(self, query: PolicyQuery, candidates: list[SearchHit]) -> list[Ranked]:
        ranked = []
        for hit in candidates:
            feats = case_features(query, hit)
            ranked.append(Ranked(hit, self.q(feats), feats))
        return _sorted(ranked)

    def update(self, examples: list[tuple[list[float], float]]) -> None:
        """One AdaGrad step per (features, reward); rewards are clipped to [0, 1]."""
        with self._lock:
            for feats, reward in examples:
                if len(feats) != len(FEATURES):
                    raise ConfigError(f"policy features have {len(feats)} values, expected {len(FEATURES)}")
                y = min(1.0, max(0.0, float(reward)))
                err = y - self.q(feats)
                for j, x in enumerate(feats):
                    grad = -err * x + self.l2 * self.w[j]
                    self.g2[j] += grad * grad
                    self.w[j] -= self.lr * grad / math.sqrt(self.g2[j])
                self.n_updates += 1
                self.log.append([*feats, y])
            if len(self.log) > self.max_log:
                del self.log[: len(self.log) - self.max_log]

    # --- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "features": list(FEATURES),
            "w": self.w,
            "g2": self.g2,
            "n_updates": self.n_updates,
            "log": self.log,
        }

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read policy file {path}: {exc}") from exc
        if data.get("features") != list(FEATURES):
            raise ConfigError(f"policy file {path} was written with other features; delete it to retrain")
        self.w = [float(x) for x in data["w"]]
        self.g2 = [float(x) for x in data["g2"]]
        self.n_updates = int(data.get("n_updates", 0))
        self.log = [list(map(float, row)) for row in data.get("log", [])]

    def save(self) -> None:
        """Atomic write (tmp file + rename) so a crash never leaves a torn policy file."""
        if self.path is None:
            return
        with self._lock:
            payload = json.dumps(self.to_dict(), separators=(",", ":"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def policy_path(memory: Any) -> Path:
    """Where a memory's learned policy lives: beside its SQLite file, else under settings.data_dir."""
    from agentmem.config import get_settings

    namespace = str(getattr(memory, "namespace", None) or "default")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in namespace)
    url = str(getattr(memory, "url", "") or "")
    if url.startswith("sqlite:///") and ":memory:" not in url:
        db = Path(url.removeprefix("sqlite:///"))
        return db.with_name(f"{db.stem}.policy-{safe}.json")
    return get_settings().data_dir / "policy" / f"{safe}.json"


_CACHE: dict[str, LearnedPolicy] = {}
_CACHE_LOCK = threading.Lock()


def make_policy(kind: str, memory: Any = None) -> SimilarityPolicy | LearnedPolicy:
    """A policy by name; learned policies are shared per file so concurrent episodes update one model."""
    if kind == "similarity":
        return SimilarityPolicy()
    if kind != "learned":
        raise ConfigError(f"unknown policy {kind!r} (expected 'similarity' or 'learned')")
    if memory is None:
        return LearnedPolicy()
    path = policy_path(memory).resolve()
    with _CACHE_LOCK:
        policy = _CACHE.get(str(path))
        if policy is None:
            policy = _CACHE[str(path)] = LearnedPolicy(path)
        return policy

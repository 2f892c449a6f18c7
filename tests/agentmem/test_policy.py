"""Case-selection policies: ranking, online learning from rewards, durable persistence."""

from __future__ import annotations

import json
import random

import pytest

from agentmem.errors import ConfigError
from agentmem.policy import (
    FEATURES,
    LearnedPolicy,
    PolicyQuery,
    SimilarityPolicy,
    case_features,
    make_policy,
    policy_path,
)
from agentmem.types import MemoryItem, ScoreParts, SearchHit


def _hit(
    sim: float,
    *,
    success: bool | None = None,
    env: str = "arc",
    kind: str = "episode",
    uses: int = 0,
    reward_sum: float = 0.0,
    reward_count: int = 0,
    recency: float = 0.5,
) -> SearchHit:
    item = MemoryItem(namespace="t", kind=kind, text=f"case {sim}", payload={"env": env, "success": success},
                      uses=uses, reward_sum=reward_sum, reward_count=reward_count)  # fmt: skip
    parts = ScoreParts(similarity=sim, recency=recency, utility=0.0, final=sim)
    return SearchHit(item=item, score=sim, parts=parts)


Q = PolicyQuery(text="rotate the grid", env="arc")


def test_features_are_named_and_bounded():
    feats = case_features(Q, _hit(0.8, success=True, uses=40, reward_sum=3, reward_count=4))
    assert len(feats) == len(FEATURES)
    named = dict(zip(FEATURES, feats, strict=True))
    assert named["same_env"] == 1.0 and named["item_success"] == 1.0 and named["mean_reward"] == 0.75
    assert all(-1.0 <= x <= 1.0 for x in feats)
    other = dict(zip(FEATURES, case_features(Q, _hit(0.8, env="web")), strict=True))
    assert other["same_env"] == 0.0 and other["mean_reward"] == 0.5 and other["has_reward"] == 0.0


def test_similarity_policy_orders_by_similarity_first():
    hits = [_hit(0.2), _hit(0.9), _hit(0.5)]
    ranked = SimilarityPolicy().rank(Q, hits)
    assert [r.hit.parts.similarity for r in ranked] == [0.9, 0.5, 0.2]


def test_untrained_learned_policy_ranks_like_similarity():
    hits = [_hit(s) for s in (0.3, 0.7, 0.1, 0.5)]
    learned = [r.hit.parts.similarity for r in LearnedPolicy().rank(Q, hits)]
    assert learned == [r.hit.parts.similarity for r in SimilarityPolicy().rank(Q, hits)]


def test_learned_policy_learns_that_failed_cases_do_not_help():
    """Reward follows the case's success flag, not its similarity: the model must discover that."""
    rng = random.Random(0)
    policy = LearnedPolicy()
    for _ in range(400):
        success = rng.random() < 0.5
        hit = _hit(rng.uniform(0.3, 0.9), success=success)
        reward = 1.0 if (success and rng.random() < 0.9) else 0.0
        policy.update([(case_features(Q, hit), reward)])
    good, bad = _hit(0.5, success=True), _hit(0.8, success=False)
    assert [r.hit for r in policy.rank(Q, [bad, good])] == [good, bad]
    assert SimilarityPolicy().rank(Q, [bad, good])[0].hit is bad
    assert policy.n_updates == 400 and len(policy.log) == 400


def test_learned_policy_persists_atomically_and_reloads(tmp_path):
    path = tmp_path / "pol" / "arc.json"
    policy = LearnedPolicy(path, max_log=10)
    feats = case_features(Q, _hit(0.6, success=True))
    policy.update([(feats, 1.0)] * 25)
    policy.save()
    assert not list(path.parent.glob("*.tmp"))
    data = json.loads(path.read_text())
    assert data["n_updates"] == 25 and len(data["log"]) == 10 and data["features"] == list(FEATURES)
    again = LearnedPolicy(path)
    assert again.w == policy.w and again.q(feats) == pytest.approx(policy.q(feats)) and again.q(feats) > 0.7


def test_bad_policy_inputs_raise_typed_errors(tmp_path):
    with pytest.raises(ConfigError):
        LearnedPolicy().update([([1.0, 2.0], 1.0)])
    bad = tmp_path / "p.json"
    bad.write_text("{broken")
    with pytest.raises(ConfigError):
        LearnedPolicy(bad)
    bad.write_text(json.dumps({"features": ["other"], "w": [0.0], "g2": [1.0]}))
    with pytest.raises(ConfigError, match="other features"):
        LearnedPolicy(bad)
    with pytest.raises(ConfigError):
        make_policy("oracle")


def test_policy_path_lives_beside_the_sqlite_store(tmp_path):
    class StoreLocation:  # only the two attributes policy_path reads
        namespace = "web/team a"
        url = f"sqlite:///{tmp_path}/mem.db"

    assert policy_path(StoreLocation()) == tmp_path / "mem.policy-web_team_a.json"
    StoreLocation.url = "postgresql+psycopg://postgres@127.0.0.1/test"
    assert policy_path(StoreLocation()).name == "web_team_a.json"
    shared = make_policy("learned", StoreLocation())
    assert make_policy("learned", StoreLocation()) is shared  # concurrent episodes update one model

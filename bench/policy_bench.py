"""Compare the case-selection policies: similarity vs learned (online logistic soft-Q).

    python bench/policy_bench.py --log PATH [PATH ...]   # replay logged usage (a policy JSON from real runs)
    python bench/policy_bench.py                         # simulated workload on the real store (MiniLM + FAISS)

Replay: every logged (features, reward) in arrival order is scored before the learned model sees
it (progressive validation); we report AUC of each policy's score against the reward (> 0.5).
Simulation (when there is no log yet): task families with varied wording, a case bank of earlier
successes and failures per family, and a stated reward model — a case helps when it is from the
same family AND worked (p=0.85); a same-family failure misleads (p=0.35); other families rarely help
(0.15/0.10). Each policy picks its top case per query on its own copy of the bank (usage recorded,
so the store's utility signal evolves too); we report the mean reward of the chosen cases.
Prints one JSON object. The learned policy should become a default only where it wins here on logs
from real runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agentmem.policy import FEATURES, LearnedPolicy, PolicyQuery, SimilarityPolicy

FAMILIES = {
    "rotate": "rotate the whole grid by 90 degrees clockwise",
    "mirror": "mirror the grid left to right",
    "recolor": "recolor every blue cell to red and keep the rest",
    "crop": "crop the output to the bounding box of the single object",
    "fill": "fill the enclosed regions inside the outlines with yellow",
    "tile": "tile the input twice horizontally and twice vertically",
    "gravity": "let every coloured cell fall down to the bottom row",
    "count": "count the objects and draw a bar of that length",
}
WORDINGS = [
    "Task: {d}.",
    "The output is the input where we {d}.",
    "Puzzle — {d}; sizes vary.",
    "Learn to {d} from the pairs.",
]
P_HELP = {(True, True): 0.85, (True, False): 0.35, (False, True): 0.15, (False, False): 0.10}


def auc(scores: list[float], labels: list[int]) -> float | None:
    """Probability that a random positive outranks a random negative (ties count half)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    ordered = sorted((s, y) for s, y in zip(scores, labels, strict=True))
    rank_sum, i = 0.0, 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j][0] == ordered[i][0]:
            j += 1
        avg_rank = (i + j + 1) / 2
        rank_sum += avg_rank * sum(1 for k in range(i, j) if ordered[k][1])
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def replay(paths: list[Path]) -> dict[str, Any]:
    rows: list[list[float]] = []
    for path in paths:
        data = json.loads(path.read_text())
        if data.get("features") != list(FEATURES):
            raise SystemExit(f"{path}: written with other features")
        rows += data.get("log", [])
    if not rows:
        raise SystemExit("the logs hold no usage rows yet")
    sim = SimilarityPolicy()
    learned = LearnedPolicy()
    idx = {name: FEATURES.index(name) for name in ("similarity", "recency", "utility")}
    s_scores, l_scores, labels = [], [], []
    ws, wr, wu = sim.weights
    for row in rows:
        feats, reward = row[:-1], row[-1]
        s_scores.append(
            ws * feats[idx["similarity"]] + wr * feats[idx["recency"]] + wu * feats[idx["utility"]]
        )
        l_scores.append(learned.q(feats))
        labels.append(int(reward > 0.5))
        learned.update([(feats, reward)])
    return {
        "mode": "replay",
        "rows": len(rows),
        "positive_rate": round(sum(labels) / len(labels), 3),
        "auc_similarity": auc(s_scores, labels),
        "auc_learned_progressive": auc(l_scores, labels),
    }


async def simulate(queries: int, per_family: int, k: int, seed: int) -> dict[str, Any]:
    from agentmem.memory_store import AsyncMemory

    rng = random.Random(seed)
    url = f"sqlite:///{tempfile.mkdtemp()}/policy-bench.db"
    bank = []
    for fam, desc in FAMILIES.items():
        for n in range(per_family):
            ok = n % 2 == 0
            wording = rng.choice(WORDINGS).format(d=desc)
            verdict = (
                "Outcome: success (verified on all train pairs)"
                if ok
                else "Outcome: failure (train pair 2 differs)"
            )
            bank.append((f"Goal: {wording}\n{verdict}", {"env": "sim", "family": fam, "success": ok}))
    stream = []
    for _ in range(queries):
        fam = rng.choice(list(FAMILIES))
        stream.append((fam, rng.choice(WORDINGS).format(d=FAMILIES[fam]), rng.random()))

    results: dict[str, Any] = {}
    for name, policy in (("similarity", SimilarityPolicy()), ("learned", LearnedPolicy())):
        memory = AsyncMemory(namespace=f"bench-{name}", url=url)
        for text, payload in bank:
            await memory.add(text, kind="episode", payload=payload)
        rewards: list[float] = []
        scores: list[float] = []
        for qi, (fam, text, u) in enumerate(stream):
            query = PolicyQuery(text=text, env="sim")
            hits = await memory.search(text, k=k, filters={"env": "sim"})
            best = policy.rank(query, hits)[0]
            item = best.hit.item
            p = P_HELP[(item.payload["family"] == fam, bool(item.payload["success"]))]
            reward = 1.0 if u < p else 0.0
            rewards.append(reward)
            scores.append(best.score)
            await memory.record_usage([item.id], f"q{qi}", reward)
            policy.update([(best.features, reward)])
        await memory.aclose()
        half = len(rewards) // 2
        results[name] = {
            "mean_reward": round(sum(rewards) / len(rewards), 3),
            "mean_reward_second_half": round(sum(rewards[half:]) / (len(rewards) - half), 3),
            "auc_of_chosen": auc(scores, [int(r) for r in rewards]),
        }
    return {
        "mode": "simulated",
        "queries": queries,
        "bank": len(bank),
        "k": k,
        "reward_model": {
            "same_family+worked": 0.85,
            "same_family+failed": 0.35,
            "other+worked": 0.15,
            "other+failed": 0.10,
        },
        "oracle_mean_reward": 0.85,
        **results,
        "learned_wins": results["learned"]["mean_reward"] > results["similarity"]["mean_reward"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", type=Path, nargs="*", help="policy JSON files written by LearnedPolicy")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--per-family", type=int, default=6)
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.log:
        out = replay(args.log)
    else:
        out = asyncio.run(simulate(args.queries, args.per_family, args.k, args.seed))
    print(json.dumps({"bench": "policy", **out}, indent=2))


if __name__ == "__main__":
    main()

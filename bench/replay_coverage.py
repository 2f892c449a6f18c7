"""Replay coverage: how many fresh instances of each task family the web navigator's exemplar
replay solves alone, from the memory a MiniWoB run left behind.

Why: a three-session memory run takes one to two hours of the model here, and most of what memory
adds to it comes from replay (exemplar steps taken without a model call). Replay itself needs no
model, so its coverage can be measured in minutes: the run's memory is copied and frozen, every
family with a remembered success gets fresh seeds (a seed namespace no evaluation uses), and any
step replay declines goes to a model that refuses, which ends the episode. An instance counts as
covered only when the env's reward says solved.

    .venv/bin/python bench/replay_coverage.py runs/web22/on/memory.db --seeds 4 --out runs/cover22

Prints, per family, instances solved by replay alone and why replay stopped on the rest; writes the
eval's usual outputs (results.jsonl, summary.json) under --out. Compare two agent versions by running
both on the same memory copy and seeds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

from agentmem.errors import LLMUnavailableError
from agentmem.llm.base import BaseLLM, Message, RawReply

COVERAGE_SEED = 7919  # run seed for the probe's instances: not the evaluations' 0, nor their practice seeds


class ReplayOnly(BaseLLM):
    """A model that is not there: a step that needs one fails, so only replayed steps act."""

    name = "replay-only"

    async def _request(self, messages: list[Message], **kw: Any) -> RawReply:
        raise LLMUnavailableError("replay-only coverage probe: this step needs a model")


async def families_with_exemplars(db: Path) -> list[str]:
    """Families that have a remembered success (a workflow with steps) in a MiniWoB memory DB."""
    from agentmem.memory_store import AsyncMemory

    async with AsyncMemory(namespace="miniwob", url=f"sqlite:///{db.resolve()}") as memory:
        items = await memory.list(kinds="concept")
    found = {
        str(i.payload["family"])
        for i in items
        if i.payload.get("kind") == "workflow" and i.payload.get("steps") and i.payload.get("family")
    }
    return sorted(found)


def frozen_copy(db: Path, out: Path) -> Path:
    """The memory DB copied under `out`, so the probe never touches the run's (its FAISS index is
    derived from the database and rebuilt on first use)."""
    out.mkdir(parents=True, exist_ok=True)
    copy = out / "memory.db"
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)  # consistent even while the run is still writing (WAL)
    finally:
        src.close()
        dst.close()
    return copy


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per family: instances, solved by replay alone, and the stop reasons of the rest."""
    by_family: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in rows:
        by_family[r["level"]].append(r)
    families = {}
    for family, frows in sorted(by_family.items()):
        stops = collections.Counter(
            str(r["details"].get("replay_stop") or "").split(": ", 1)[-1] or "none"
            for r in frows
            if not r["solved"]
        )
        families[family] = {"n": len(frows), "solved": sum(r["solved"] for r in frows), "stops": dict(stops)}
    n = sum(f["n"] for f in families.values())
    solved = sum(f["solved"] for f in families.values())
    reasons = collections.Counter()
    for f in families.values():
        reasons.update(f["stops"])
    return {
        "instances": n,
        "solved": solved,
        "coverage": round(solved / n, 3) if n else 0.0,
        "families": len(families),
        "families_all_solved": sum(f["solved"] == f["n"] for f in families.values()),
        "stops": dict(reasons.most_common()),
        "by_family": families,
    }


async def main(argv: list[str] | None = None) -> int:
    from agentmem.eval.miniwob import MiniWoBEvalConfig, run_miniwob_eval

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("memory_db", type=Path, help="a MiniWoB run's memory.db (copied, never written)")
    ap.add_argument("--seeds", type=int, default=4, help="fresh instances per family")
    ap.add_argument("--seed", type=int, default=COVERAGE_SEED)
    ap.add_argument("--families", default="", help="comma list (default: every family with an exemplar)")
    ap.add_argument("--max-steps", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/replay-coverage"))
    args = ap.parse_args(argv)
    if not args.memory_db.exists():
        print(f"no memory DB at {args.memory_db}", file=sys.stderr)
        return 2
    shutil.rmtree(args.out, ignore_errors=True)  # a fresh probe each time: never resumes an old one
    db = frozen_copy(args.memory_db, args.out)
    families = [f for f in args.families.split(",") if f] or await families_with_exemplars(db)
    if not families:
        print("no remembered successes in that memory", file=sys.stderr)
        return 1
    cfg = MiniWoBEvalConfig(
        tasks=",".join(families),
        episodes=args.seeds,
        sessions=1,
        memory="frozen",
        memory_db=db,
        concurrency=args.concurrency,
        seed=args.seed,
        out=args.out / "eval",
        max_steps=args.max_steps,
        explore=False,
        screenshot_episodes=0,
        progress=False,
    )
    await run_miniwob_eval(cfg, llm=ReplayOnly())
    rows = [json.loads(line) for line in (args.out / "eval" / "results.jsonl").read_text().splitlines()]
    result = report(rows)
    (args.out / "coverage.json").write_text(json.dumps(result, indent=1))
    for family, f in result["by_family"].items():
        print(f"{family:32s} {f['solved']}/{f['n']}  {f['stops']}")
    summary = {k: v for k, v in result.items() if k != "by_family"}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

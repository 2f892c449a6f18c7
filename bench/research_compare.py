"""Two research runs over the same questions side by side: solved, time, and which questions each won.

    python bench/research_compare.py runs/research-mem/test-off runs/research-mem/test-frozen \
        [--memory-db runs/research-mem/dev.db]

Only questions that both runs finished are compared (a run still going is compared on its prefix).
A question's family is its task id before the hash (the offline suite's ids are `family-hash`).
With `--memory-db` (the second run's case bank) the questions are also split by whether recall brought a
case of the same family that WORKED: where memory had something concrete to offer.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from agentmem.eval.harness import ResultsLog


def _rows(run: Path) -> dict[str, dict]:
    return {r.task_id: r.model_dump(mode="json") for r in ResultsLog(run / "results.jsonl").load()}


def _family(task_id: str) -> str:
    return task_id.rsplit("-", 1)[0]


def worked_case_split(memory_db: Path, rows: dict[str, dict], ids: list[str]) -> dict[str, list[str]]:
    """The questions whose recall held a same-family case marked WORKED, and the rest."""
    from agentmem.memory_store import Memory

    payloads: dict[str, dict] = {}
    with Memory("research", url=f"sqlite:///{memory_db}") as mem:
        for tid in ids:
            for item_id in rows[tid].get("recalled_ids") or []:
                if item_id not in payloads:
                    try:
                        payloads[item_id] = mem.get(item_id).payload
                    except KeyError:
                        payloads[item_id] = {}
    split: dict[str, list[str]] = {"with_worked_case": [], "without": []}
    for tid in ids:
        worked = any(
            payloads[i].get("success") is True
            and _family(str(payloads[i].get("task_id", ""))) == _family(tid)
            for i in rows[tid].get("recalled_ids") or []
        )
        split["with_worked_case" if worked else "without"].append(tid)
    return split


def _arm(rows: dict[str, dict], ids: list[str]) -> dict:
    solved = sum(bool(rows[t]["solved"]) for t in ids)
    times = [float(rows[t]["time_s"]) for t in ids]
    return {
        "solved": solved,
        "rate": round(solved / max(len(ids), 1), 4),
        "mean_time_s": round(sum(times) / max(len(times), 1), 1),
        "no_answer": sum(not (rows[t].get("details") or {}).get("answer") for t in ids),
    }


def compare(base_dir: Path, other_dir: Path, memory_db: Path | None = None) -> dict:
    base, other = _rows(base_dir), _rows(other_dir)
    common = sorted(set(base) & set(other))
    families: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for tid in common:
        fam = families[_family(tid)]
        fam[0] += 1
        fam[1] += int(base[tid]["solved"])
        fam[2] += int(other[tid]["solved"])
    out: dict = {
        "n": len(common),
        base_dir.name: _arm(base, common),
        other_dir.name: _arm(other, common),
        # greedy decoding: where memory showed nothing, both arms should give the same answer
        "same_answer": sum(
            (base[t].get("details") or {}).get("answer") == (other[t].get("details") or {}).get("answer")
            for t in common
        ),
        "gained": [t for t in common if other[t]["solved"] and not base[t]["solved"]],
        "lost": [t for t in common if base[t]["solved"] and not other[t]["solved"]],
        "by_family": {
            f: dict(zip(("n", base_dir.name, other_dir.name), v, strict=True))
            for f, v in sorted(families.items())
        },
    }
    if memory_db is not None:
        split = worked_case_split(memory_db, other, common)
        out["by_worked_case"] = {
            part: {
                "n": len(ids),
                base_dir.name: _arm(base, ids)["solved"],
                other_dir.name: _arm(other, ids)["solved"],
            }
            for part, ids in split.items()
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", type=Path)
    parser.add_argument("other", type=Path)
    parser.add_argument("--memory-db", type=Path, default=None)
    args = parser.parse_args()
    print(json.dumps(compare(args.base, args.other, args.memory_db), indent=2))


if __name__ == "__main__":
    main()

"""Two research runs over the same questions side by side: solved, time, and which questions each won.

    python bench/research_compare.py runs/research-mem/test-off runs/research-mem/test-frozen

Only questions that both runs finished are compared (a run still going is compared on its prefix).
A question's family is its task id before the hash (the offline suite's ids are `family-hash`).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from agentmem.eval.harness import ResultsLog


def _rows(run: Path) -> dict[str, dict]:
    return {r.task_id: r.model_dump(mode="json") for r in ResultsLog(run / "results.jsonl").load()}


def compare(base_dir: Path, other_dir: Path) -> dict:
    base, other = _rows(base_dir), _rows(other_dir)
    common = sorted(set(base) & set(other))
    families: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for tid in common:
        fam = families[tid.rsplit("-", 1)[0]]
        fam[0] += 1
        fam[1] += int(base[tid]["solved"])
        fam[2] += int(other[tid]["solved"])

    def arm(rows: dict[str, dict]) -> dict:
        solved = sum(bool(rows[t]["solved"]) for t in common)
        times = [float(rows[t]["time_s"]) for t in common]
        return {
            "solved": solved,
            "rate": round(solved / max(len(common), 1), 4),
            "mean_time_s": round(sum(times) / max(len(times), 1), 1),
            "no_answer": sum(not (rows[t].get("details") or {}).get("answer") for t in common),
        }

    return {
        "n": len(common),
        base_dir.name: arm(base),
        other_dir.name: arm(other),
        "gained": [t for t in common if other[t]["solved"] and not base[t]["solved"]],
        "lost": [t for t in common if base[t]["solved"] and not other[t]["solved"]],
        "by_family": {
            f: dict(zip(("n", base_dir.name, other_dir.name), v, strict=True))
            for f, v in sorted(families.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base", type=Path)
    parser.add_argument("other", type=Path)
    args = parser.parse_args()
    print(json.dumps(compare(args.base, args.other), indent=2))


if __name__ == "__main__":
    main()

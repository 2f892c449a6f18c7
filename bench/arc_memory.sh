#!/usr/bin/env bash
# ARC-AGI-1: memory off vs memory warm-started from the training split, same budget per task.
# The budget is counted in candidate programs evaluated (--budget-candidates), so both arms get the
# same search effort whatever else the machine is doing; --budget-s is only a safety cap.
# 1) build concept memory on the 400 training tasks (online: later tasks recall earlier ones);
# 2) evaluation split with memory off; 3) evaluation split with that memory frozen.
# Each step is resumable (rerun to continue). Steps 2 and 3 may run side by side.
set -euo pipefail
CANDIDATES=${CANDIDATES:-60000}
CAP_S=${CAP_S:-60}
OUT=${OUT:-runs/arc-measure}
AM=${AM:-.venv/bin/agentmem}
B="--version arcagi1 --solver search --concurrency 1 --budget-candidates $CANDIDATES --budget-s $CAP_S"
$AM eval arc $B --split training --memory on --memory-db "$OUT/train-memory.db" --out "$OUT/train"
$AM eval arc $B --split evaluation --memory off --out "$OUT/eval-off"
$AM eval arc $B --split evaluation --memory frozen --memory-db "$OUT/train-memory.db" --out "$OUT/eval-frozen"

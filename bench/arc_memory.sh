#!/usr/bin/env bash
# ARC-AGI-1: memory off vs memory warm-started from the training split, same budget per task.
# 1) build concept memory on the 400 training tasks; 2) evaluation split with memory off;
# 3) evaluation split with that memory frozen. Each step is resumable (rerun to continue).
set -euo pipefail
BUDGET=${BUDGET:-20}
CONC=${CONC:-1}
OUT=${OUT:-runs/arc-measure}
AM=${AM:-.venv/bin/agentmem}
$AM eval arc --version arcagi1 --split training --solver search --memory on \
  --memory-db "$OUT/train-memory.db" --budget-s "$BUDGET" --concurrency "$CONC" --out "$OUT/train"
$AM eval arc --version arcagi1 --split evaluation --solver search --memory off \
  --budget-s "$BUDGET" --concurrency "$CONC" --out "$OUT/eval-off"
$AM eval arc --version arcagi1 --split evaluation --solver search --memory frozen \
  --memory-db "$OUT/train-memory.db" --budget-s "$BUDGET" --concurrency "$CONC" --out "$OUT/eval-frozen"

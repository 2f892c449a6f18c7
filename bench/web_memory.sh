#!/usr/bin/env bash
# MiniWoB++: memory off vs on side by side (same fresh seeds per session in both arms), embedded model.
# One llama.cpp thread per arm so the two arms share the 2 cores evenly; resumable (rerun to continue).
# One to two hours per arm with the 1.5B here (100 tasks x 3 sessions, 12-23 s an episode).
# STEPS=N caps the steps per episode (default 4, as at stops 15-20; 6, the CLI default, made
# episodes ~1.5x longer here: 33 s each on the first 12 tasks with both arms side by side).
# PRACTICE=N gives the on arm up to N practice episodes per family it failed, before each later session.
# OFF_BASELINE=FILE seeds the off arm with a results.jsonl measured before (bench/baselines/), so only the
# on arm runs: valid while the memory-off path is unchanged since the commit its rows name (`code`).
# ON_ARGS="..." adds flags to the on arm only (e.g. --explore-draws 6, or --no-explore-rank for the grammar redraw).
set -uo pipefail
OUT=${OUT:-runs/web}
MODEL=${MODEL:-qwen2.5-coder-1.5b}
LIMIT=${LIMIT:-100}
PRACTICE=${PRACTICE:-0}
STEPS=${STEPS:-4}
AM=${AM:-.venv/bin/agentmem}
mkdir -p "$OUT"
THREADS=1
if [ -n "${OFF_BASELINE:-}" ]; then
  THREADS=2  # the on arm runs alone
  [ -e "$OUT/off/results.jsonl" ] || { mkdir -p "$OUT/off" && cp "$OFF_BASELINE" "$OUT/off/results.jsonl"; }
fi
export AGENTMEM_LLM__N_THREADS=${AGENTMEM_LLM__N_THREADS:-$THREADS} HF_HUB_OFFLINE=1
C="--tasks all --limit $LIMIT --episodes 1 --sessions 3 --concurrency 1 --seed 0 --max-steps $STEPS --model $MODEL"
$AM eval miniwob $C --memory off --out "$OUT/off" > "$OUT.off.log" 2>&1 &
$AM eval miniwob $C --memory on --practice "$PRACTICE" ${ON_ARGS:-} --out "$OUT/on" > "$OUT.on.log" 2>&1 &
wait
"$(dirname "$AM")/python" bench/web_compare.py "$OUT/off" "$OUT/on"

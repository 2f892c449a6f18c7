#!/usr/bin/env bash
# Offline research suite: a case bank built on dev (training run: cases marked by the reference), then the
# test split with that memory frozen vs memory off. Two processes at a time (one llama.cpp thread each):
#   1. dev questions [0, DEV) (default: all 53) as two halves, each learning online into its own database;
#      a failed question whose kind has no worked case yet is retried HINDSIGHT times (default 1) with
#      its reference as target, and its case counts as worked only if the calls computed the value;
#   2. the halves merged into one case bank (memory export/import, vectors kept);
#   3. test questions [0, TEST) (default: all 49): memory off and memory frozen side by side, in chunks.
# Resumable: rerun to continue. The corpus index is built once per machine before anything else.
set -euo pipefail
OUT=${OUT:-runs/research-mem}
DEV=${DEV:-53}
TEST=${TEST:-49}
HINDSIGHT=${HINDSIGHT:-1}
AM=${AM:-.venv/bin/agentmem}
PY=${PY:-.venv/bin/python}
export AGENTMEM_LLM__N_THREADS=${AGENTMEM_LLM__N_THREADS:-1} HF_HUB_OFFLINE=1
mkdir -p "$OUT"

ids() {  # task ids of a split, questions [from, to), as repeated --task options
  $PY bench/suite_ids.py "$@"
}

$PY -c "
import asyncio
from agentmem.envs.research_corpus import LocalCorpus
from agentmem.eval.research_suite import corpus_dir
asyncio.run(LocalCorpus([corpus_dir()]).ensure_index())"

half=$((DEV / 2))
# shellcheck disable=SC2046
$AM eval research --split dev $(ids dev 0 "$half") --memory on --learn-from labels \
  --hindsight-retries "$HINDSIGHT" --memory-db "$OUT/dev-a.db" --out "$OUT/dev-a" > "$OUT/dev-a.log" 2>&1 &
# shellcheck disable=SC2046
$AM eval research --split dev $(ids dev "$half" "$DEV") --memory on --learn-from labels \
  --hindsight-retries "$HINDSIGHT" --memory-db "$OUT/dev-b.db" --out "$OUT/dev-b" > "$OUT/dev-b.log" 2>&1 &
wait

if [ ! -f "$OUT/dev.merged" ]; then  # import upserts by id: a rerun after a partial merge is harmless
  for part in a b; do
    $AM memory export "$OUT/dev-$part.jsonl" -n research --url "sqlite:///$OUT/dev-$part.db"
    $AM memory import "$OUT/dev-$part.jsonl" -n research --url "sqlite:///$OUT/dev.db"
  done
  touch "$OUT/dev.merged"
fi

# Test arms in chunks of CHUNK questions, queued off/frozen chunk by chunk on two workers: both arms
# advance together, so a run cut short still compares the two arms on the same questions.
run_arm() {  # ARM FROM TO
  local dir="$OUT/test-$1-parts/$2-$3" mem=(--memory off)
  [ "$1" = frozen ] && mem=(--memory frozen --memory-db "$OUT/dev.db")
  mkdir -p "$OUT/test-$1-parts"
  # shellcheck disable=SC2046
  $AM eval research --split test $($PY bench/suite_ids.py test "$2" "$3") "${mem[@]}" --out "$dir" \
    > "$dir.log" 2>&1
}
export -f run_arm
export OUT AM PY
CHUNK=${CHUNK:-8}
for ((from = 0; from < TEST; from += CHUNK)); do
  to=$((from + CHUNK < TEST ? from + CHUNK : TEST))
  printf 'off %d %d\nfrozen %d %d\n' "$from" "$to" "$from" "$to"
done | xargs -P 2 -L 1 bash -c 'run_arm "$@"' _
for arm in off frozen; do  # each arm's chunks as one run for the comparison
  mkdir -p "$OUT/test-$arm"
  cat "$OUT/test-$arm-parts"/*/results.jsonl > "$OUT/test-$arm/results.jsonl"
done
$PY bench/research_compare.py "$OUT/test-off" "$OUT/test-frozen" --memory-db "$OUT/dev.db"

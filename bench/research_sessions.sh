#!/usr/bin/env bash
# Offline research suite: sessions over the test split with memory ON (test-time learning: cases marked
# by the agent's self-verification, never by the reference), starting from the dev case bank that
# bench/research_memory.sh built. Test questions [FROM, TO) run as two halves in two processes, each on
# its own copy of the bank; every session re-runs its half. summary.json's `memory_resolves` separates
# solves that recalled the question's own case (a remembered answer) from fresh ones.
# Resumable: rerun to continue.
set -euo pipefail
OUT=${OUT:-runs/research-mem}
FROM=${FROM:-0}
TO=${TO:-24}
SESSIONS=${SESSIONS:-2}
AM=${AM:-.venv/bin/agentmem}
PY=${PY:-.venv/bin/python}
export AGENTMEM_LLM__N_THREADS=${AGENTMEM_LLM__N_THREADS:-1} HF_HUB_OFFLINE=1
[ -f "$OUT/dev.merged" ] || { echo "no dev bank in $OUT: run bench/research_memory.sh first" >&2; exit 2; }

ids() {  # task ids of the test split, questions [from, to), as repeated --task options
  $PY bench/suite_ids.py test "$@"
}

mid=$(((FROM + TO) / 2))
for part in a b; do  # the bank, loaded from the dev halves' exports (a copied SQLite file may miss its WAL)
  if [ ! -f "$OUT/test-on-$part.loaded" ]; then
    for half in a b; do
      $AM memory import "$OUT/dev-$half.jsonl" -n research --url "sqlite:///$OUT/test-on-$part.db"
    done
    touch "$OUT/test-on-$part.loaded"
  fi
done
# shellcheck disable=SC2046
$AM eval research --split test $(ids "$FROM" "$mid") --memory on --sessions "$SESSIONS" \
  --memory-db "$OUT/test-on-a.db" --out "$OUT/test-on-a" > "$OUT/test-on-a.log" 2>&1 &
# shellcheck disable=SC2046
$AM eval research --split test $(ids "$mid" "$TO") --memory on --sessions "$SESSIONS" \
  --memory-db "$OUT/test-on-b.db" --out "$OUT/test-on-b" > "$OUT/test-on-b.log" 2>&1 &
wait
for part in a b; do
  $PY -c "import json, sys; s = json.load(open(sys.argv[1])); print(json.dumps(s['sessions'])); \
print(json.dumps(s['memory_resolves']))" "$OUT/test-on-$part/summary.json"
done

#!/usr/bin/env bash
# `make test` N times in a row (default 5) while two CPU-bound processes per core run beside
# it for the whole series: issue 19's check that the tests do not fail on a busy machine.
# One line per run goes to the summary file (default reports/busy-make-test.txt), each run's
# output beside it; the spinners are stopped however the script ends.
#
#   scripts/busy-make-test.sh [RUNS] [SUMMARY]
set -u
cd "$(dirname "$0")/.." || exit 1
runs=${1:-5}
summary=${2:-reports/busy-make-test.txt}
mkdir -p "$(dirname "$summary")"
spinners=()
for _ in $(seq $((2 * $(nproc)))); do python3 -c 'while True: pass' & spinners+=($!); done
trap 'kill "${spinners[@]}" 2>/dev/null' EXIT
echo "$(date -u +%FT%TZ) start $(git log --oneline -1 | cut -c1-60); ${#spinners[@]} spinners on $(nproc) cores" >> "$summary"
failed=0
for run in $(seq "$runs"); do
  log="${summary%.txt}-run-$run.log"
  start=$(date +%s)
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  make test > "$log" 2>&1
  rc=$?
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
  echo "$(date -u +%FT%TZ) run $run exit $rc in $(( $(date +%s) - start )) s, load before $before after $(cut -d' ' -f1-3 /proc/loadavg): $(grep -E '[0-9]+ (passed|failed)' "$log" | tail -1)" >> "$summary"
done
tail -n "$((runs + 1))" "$summary"
exit $(( failed > 0 ))

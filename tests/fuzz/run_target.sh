#!/usr/bin/env bash
# One fuzz target under ctest:  run_target.sh FUZZER SECONDS ARTIFACT_DIR CORPUS_DIR...
# 1. replays every input of every corpus folder (seeds, committed regressions, public samples);
# 2. mutates from the seeds and regressions: 3,000 mutations from a fixed seed, at most SECONDS.
# Any crash, sanitizer report, escaped exception, timeout (30 s per input) or memory blow-up
# fails the run and leaves the input as ARTIFACT_DIR/<target>-crash-... (replay it with
# `FUZZER FILE`, and add it to tests/fuzz/corpus/<target>/ once fixed).
set -euo pipefail
fuzzer=$1 seconds=$2 artifacts=$3
shift 3
name=$(basename "$fuzzer")
[ -x "$fuzzer" ] || { echo "$name: $fuzzer is not built" >&2; exit 1; }
mkdir -p "$artifacts"
corpora=()
for d in "$@"; do
  if [ -d "$d" ]; then corpora+=("$d"); else echo "$name: $d is absent, not replayed"; fi
done
[ ${#corpora[@]} -gt 0 ] || { echo "$name: no corpus to replay" >&2; exit 1; }
# New inputs the mutation finds go to a scratch folder: the seeds and regressions stay as they are.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
common=(-timeout=30 -rss_limit_mb=4096 -malloc_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1
        "-artifact_prefix=$artifacts/$name-")
log=$(mktemp)
trap 'rm -rf "$scratch" "$log"' EXIT
run() {  # run WHAT ARGS...: the fuzzer's summary lines on success, its whole report on failure
  local what=$1
  shift
  set +e
  "$fuzzer" "${common[@]}" "$@" >"$log" 2>&1
  local status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    tail -n 80 "$log" >&2
    echo "$name: $what failed (exit $status); the input is in $artifacts" >&2
    exit "$status"
  fi
  grep -E "INITED|DONE|stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$log" | tail -n 4
}
for d in "${corpora[@]}"; do echo "$name: replaying $(find "$d" -type f | wc -l) inputs of $d"; done
run "the replay" -runs=0 "$scratch" "${corpora[@]}"
# Mutate from the seeds and regressions (the public samples are replayed above, not mutated:
# they are large and slow to execute).
mutate=("$scratch")
for d in "${corpora[@]}"; do case "$d" in */realdata/*) ;; *) mutate+=("$d") ;; esac; done
# A fixed seed and at most 3,000 mutations: a test run replays the same mutations each time, so
# a failure here is reproducible (and new findings come from campaigns, tests/fuzz/campaign.sh).
run "fuzzing" -seed=1 -runs=3000 -max_total_time="$seconds" "${mutate[@]}"
echo "$name: no failure"

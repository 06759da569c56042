#!/usr/bin/env bash
# A longer fuzzing campaign, accumulated over sessions:
#   tests/fuzz/campaign.sh [MINUTES_PER_TARGET] [TARGET...]
# Builds nothing: run `cmake --build build` first (it builds build/fuzz). Each target mutates
# from its growing corpus in $FUZZ_HOME/<target> (default /var/tmp/anomalylens-fuzz: outside
# the repository, kept between runs) plus the seeds and regressions, with one job per target.
# Prints one Markdown row per target for docs/RELIABILITY.md: executions, coverage, corpus,
# findings. A finding stays in $FUZZ_HOME/artifacts; once fixed, copy it into
# tests/fuzz/corpus/<target>/ so that ctest replays it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${BUILD_DIR:-$here/../../build}"
minutes=${1:-60}
shift $(( $# > 0 ? 1 : 0 )) || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(dicom_file dicomdir volume_header heidelberg_vol bscan_folder session manifest model_file)
home="${FUZZ_HOME:-/var/tmp/anomalylens-fuzz}"
mkdir -p "$home/artifacts"
seeds="$build/tests/fuzz-seeds"
[ -d "$seeds" ] || bash "$here/make_corpora.sh" "$build/tests/fuzz_make_seeds" "$seeds" >/dev/null
echo "| date | target | minutes | executions | coverage (edges) | corpus | findings |"
echo "|---|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
  fuzzer="$build/fuzz/fuzz_$t"
  [ -x "$fuzzer" ] || { echo "campaign: $fuzzer is not built" >&2; exit 1; }
  mkdir -p "$home/$t"
  dirs=("$home/$t")
  [ -d "$seeds/$t" ] && dirs+=("$seeds/$t")
  [ -d "$here/corpus/$t" ] && dirs+=("$here/corpus/$t")
  log="$home/$t.log"
  before=$(find "$home/artifacts" -name "fuzz_$t-*" | wc -l)
  set +e
  "$fuzzer" -max_total_time=$((minutes * 60)) -timeout=30 -rss_limit_mb=4096 -malloc_limit_mb=2048 \
    -close_fd_mask=3 -print_final_stats=1 "-artifact_prefix=$home/artifacts/fuzz_$t-" "${dirs[@]}" >"$log" 2>&1
  set -e
  after=$(find "$home/artifacts" -name "fuzz_$t-*" | wc -l)
  execs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" | tail -1)
  cov=$(grep -oE "cov: [0-9]+" "$log" | tail -1 | grep -oE "[0-9]+")
  corpus=$(find "$home/$t" -type f | wc -l)
  echo "| $(date -u +%F) | $t | $minutes | ${execs:-?} | ${cov:-?} | $corpus | $((after - before)) |"
done

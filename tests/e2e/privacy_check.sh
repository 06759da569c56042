#!/usr/bin/env bash
# Patient data stays private: the CLI and the viewer, at debug log level, on a phantom study that
# carries a distinctive patient name and ID, never write them into a log (stderr, the viewer's
# log file), an error message, or the name of any file they touch (temporary files included:
# every path the processes open, create, rename or remove is recorded with strace).
#   privacy_check.sh CLI VIEWER XVFB_RUN WORK_DIR MODELS_DIR
# The patient data must appear where it belongs (`info`'s output), or the check proves nothing.
set -euo pipefail
cli=$1 viewer=$2 xvfb=$3 work=$4 models=$5
name_family=Zyxwvutsr name_given=Privacyqpo id=PRIVID98765
for tool in strace dcmodify; do
  command -v "$tool" >/dev/null || { echo "privacy_check: $tool is missing (installer/install-deps.sh)" >&2; exit 1; }
done
rm -rf "$work"
mkdir -p "$work/home" "$work/tmp" "$work/logs"
export HOME="$work/home" XDG_DATA_HOME="$work/home/.local/share" XDG_CONFIG_HOME="$work/home/.config"
export XDG_CACHE_HOME="$work/home/.cache" TMPDIR="$work/tmp" ANOMALYLENS_THREADS=1
export ANOMALYLENS_SETTINGS="$work/home/settings.ini" ANOMALYLENS_TRAINING_DIR="$work/home/training"

# The study: a small OCT phantom (DICOM), its patient renamed with DCMTK's dcmodify.
"$cli" phantom oct --out "$work/study" --healthy 0 --anomalous 1 --format dicom --bscans 4 --seed 5 >/dev/null
scan="$work/study/oct_0000.dcm"
dcmodify --no-backup -m "(0010,0010)=$name_family^$name_given" -m "(0010,0020)=$id" -m "(0010,0030)=19510407" "$scan"
# A damaged copy, for the error path (cut inside the pixel data).
head -c $(( $(stat -c %s "$scan") / 2 )) "$scan" > "$work/study/damaged.dcm"

step=0
traced() {  # traced LABEL COMMAND...: stdout to logs/LABEL.out, stderr to logs/LABEL.err
  local label=$1
  shift
  step=$((step + 1))
  set +e
  strace -f -qq -e trace=%file -o "$work/logs/$label.trace" "$@" >"$work/logs/$label.out" 2>"$work/logs/$label.err"
  local rc=$?
  set -e
  echo "privacy_check: $label exited $rc"
  # The runs that must work (the others are given a damaged file).
  case "$label" in
    *damaged*) ;;
    *) [ "$rc" -eq 0 ] || { echo "privacy_check: $label failed:" >&2; tail -5 "$work/logs/$label.err" >&2; exit 1; } ;;
  esac
  return 0
}

traced info "$cli" -v info "$scan"
traced info_json "$cli" -v info --json "$scan"
traced infer "$cli" -v infer --model "$models/a2bgan-oct-lite.json" --input "$scan" --out "$work/infer"
traced report "$cli" -v report --model a2bgan-oct-lite --input "$scan" --out "$work/report"
traced report_anonymised "$cli" -v report --model a2bgan-oct-lite --input "$scan" --out "$work/report-anon" --anonymise
traced damaged "$cli" -v info "$work/study/damaged.dcm"
if [ -n "$xvfb" ] && [ -x "$xvfb" ]; then
  traced viewer "$xvfb" -a -s "-screen 0 1400x900x24" "$viewer" --verbose --model a2bgan-oct-lite \
    --screenshot "$work/viewer.png" "$scan"
  traced viewer_damaged "$xvfb" -a -s "-screen 0 1400x900x24" "$viewer" --verbose --no-model \
    --screenshot "$work/viewer-damaged.png" "$work/study/damaged.dcm"
else
  echo "privacy_check: xvfb-run is missing (installer/install-deps.sh)" >&2
  exit 1
fi

# The check can fail: the name and ID are in the study and in `info`'s answer.
grep -q "$name_family" "$work/logs/info.out" || { echo "privacy_check: info does not show the patient name: the study is wrong" >&2; exit 1; }
grep -q "$id" "$work/logs/info_json.out" || { echo "privacy_check: info --json does not show the patient ID" >&2; exit 1; }
[ -s "$work/logs/viewer.trace" ] || { echo "privacy_check: the viewer left no trace" >&2; exit 1; }
grep -q "viewer.png" "$work/logs/viewer.trace" || { echo "privacy_check: the viewer's screenshot is not in its trace" >&2; exit 1; }

fail=0
leak() { echo "privacy_check: LEAK: $1" >&2; fail=1; }
for pattern in "$name_family" "$name_given" "$id"; do
  # Logs and error messages: stderr of every run, and every log file the programs wrote.
  for f in "$work"/logs/*.err; do
    grep -qi "$pattern" "$f" && leak "\"$pattern\" in $(basename "$f"): $(grep -i -m1 "$pattern" "$f")"
  done
  while IFS= read -r -d '' f; do
    grep -qi "$pattern" "$f" && leak "\"$pattern\" in the log file $f"
  done < <(find "$work/home" -type f \( -name "*.log" -o -name "*.log.*" \) -print0)
  # File names: every path any process of every run touched, and every file left behind.
  for f in "$work"/logs/*.trace; do
    grep -qi "$pattern" "$f" && leak "\"$pattern\" in a file name ($(basename "$f" .trace)): $(grep -i -m1 "$pattern" "$f" | cut -c1-200)"
  done
  find "$work" -iname "*$pattern*" | grep -q . && leak "\"$pattern\" in a file name left in $work: $(find "$work" -iname "*$pattern*" | head -1)"
done
logs=$(find "$work/home" -type f -name "*.log*" | wc -l)
echo "privacy_check: checked $(ls "$work"/logs/*.err | wc -l) runs' stderr, $logs log files, $(cat "$work"/logs/*.trace | wc -l) traced file operations"
[ "$logs" -gt 0 ] || { echo "privacy_check: the viewer wrote no log file" >&2; exit 1; }
[ "$fail" -eq 0 ] && echo "privacy_check: the patient's name and ID appear in no log, message or file name"
exit "$fail"

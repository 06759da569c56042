#!/usr/bin/env bash
# The reading survives a killed viewer: the real viewer opens a saved session (annotations and
# image marks) with autosave every second, is killed with SIGKILL once its recovery file is
# written, and the file is then complete and holds the reading; the next viewer to start finds
# it and offers it back (tests/ui/test_session_recovery.cpp clicks Restore and Discard).
#   recovery_check.sh CLI VIEWER XVFB_RUN WORK_DIR
set -euo pipefail
cli=$1 viewer=$2 xvfb=$3 work=$4
[ -n "$xvfb" ] && [ -x "$xvfb" ] || { echo "recovery_check: xvfb-run is missing (installer/install-deps.sh)" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/home"
export HOME="$work/home" XDG_DATA_HOME="$work/home/data" ANOMALYLENS_SETTINGS="$work/home/settings.ini"
export ANOMALYLENS_TRAINING_DIR="$work/home/training" ANOMALYLENS_AUTOSAVE_SECONDS=1 ANOMALYLENS_THREADS=1
"$cli" phantom oct --out "$work/study" --healthy 1 --anomalous 0 --format nifti --bscans 6 --seed 4 >/dev/null
scan="$work/study/oct_0000.nii.gz"
[ -f "$scan" ] || { echo "recovery_check: the phantom was not written" >&2; exit 1; }
cat >"$work/reading.alsession" <<EOF
{"format": "anomalylens-session", "format_version": 1, "scan": "$scan", "series": "",
 "annotations": [{"kind": "flag", "note": "fluid here", "points": [[100.0, 200.0]], "slice": 2},
                 {"kind": "region", "note": "drusen", "points": [[50.0, 60.0], [90.0, 100.0]], "slice": 3}],
 "slice_labels": {"2": 1, "4": 0},
 "overlay": {"model": "", "map": "", "colormap": "inferno", "normalisation": "calibrated", "opacity": 0.6,
             "hide_below": 0.0, "visible": true},
 "view": {"slice": 2, "zoom": 1.0, "pan": [0.0, 0.0], "channel": 0, "layout": "single", "compare": false,
          "window_level": {}}}
EOF
recovery="$XDG_DATA_HOME/AnomalyLens/recovery"
"$xvfb" -a -s "-screen 0 1400x900x24" "$viewer" --open-session "$work/reading.alsession" >"$work/viewer1.log" 2>&1 &
launcher=$!
file=""
for _ in $(seq 1 600); do
  file=$(find "$recovery" -name "reading-*.alsession" 2>/dev/null | head -1 || true)
  [ -n "$file" ] && break
  kill -0 "$launcher" 2>/dev/null || { cat "$work/viewer1.log" >&2; echo "recovery_check: the viewer ended before autosaving" >&2; exit 1; }
  sleep 0.1
done
[ -n "$file" ] || { echo "recovery_check: no recovery file after 60 s" >&2; exit 1; }
pid=$(basename "$file" .alsession)
pid=${pid#reading-}
sleep 1.5  # let it autosave again: the kill may land in the middle of a write
kill -9 "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { echo "recovery_check: viewer $pid survived SIGKILL" >&2; exit 1; }
wait "$launcher" 2>/dev/null || true
echo "recovery_check: killed viewer $pid after its autosave"

# The file is there, complete, and holds the reading.
[ -f "$file" ] || { echo "recovery_check: the recovery file is gone after the kill" >&2; exit 1; }
python3 - "$file" "$scan" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["format"] == "anomalylens-session", s.get("format")
assert s["scan"] == sys.argv[2], s["scan"]
notes = sorted(a["note"] for a in s["annotations"])
assert notes == ["drusen", "fluid here"], notes
assert s["slice_labels"] == {"2": 1, "4": 0}, s["slice_labels"]
print("recovery_check: the recovery file holds the 2 annotations and 2 image marks")
PY
if ls "$recovery" | grep -q "\.tmp"; then echo "recovery_check: note: a temporary file of the interrupted write is left: $(ls "$recovery")"; fi

# The next viewer finds the orphan and offers it (it then waits for the user: stopped here).
set +e
QT_QPA_PLATFORM=offscreen timeout 20 "$viewer" --verbose >"$work/viewer2.log" 2>&1
set -e
grep -q "recovery: a reading that did not close normally (process $pid" "$work/viewer2.log" || {
  cat "$work/viewer2.log" >&2
  echo "recovery_check: the next viewer did not offer the reading back" >&2
  exit 1
}
echo "recovery_check: the next viewer offered the reading of process $pid back"

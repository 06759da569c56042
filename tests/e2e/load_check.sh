#!/usr/bin/env bash
# Under load: a 2,000-slice DICOM series, a 4 GiB volume, and 200 studies scored in one process.
#   load_check.sh CLI VIEWER XVFB_RUN WORK_DIR MODELS_DIR
# - The 2,000-slice series (made from one phantom MR slice with DCMTK's dcmodify) is read by
#   `info` and shown by the viewer, each within 2x its voxel bytes plus 400 MiB of resident memory.
# - A 4 GiB NIfTI (a sparse file: no disk used) under a 1 GiB memory budget is refused by `info`
#   and by the viewer, naming the file and the budget, without the memory ever being taken.
# - `infer` scores 200 phantom OCT studies in one process; its resident memory is sampled, and
#   its growth from the first tenth of the studies to the last must stay under 64 MiB (printed).
set -euo pipefail
cli=$1 viewer=$2 xvfb=$3 work=$4 models=$5
for tool in dcmodify /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "load_check: $tool is missing (installer/install-deps.sh)" >&2; exit 1; }
done
[ -n "$xvfb" ] && [ -x "$xvfb" ] || { echo "load_check: xvfb-run is missing (installer/install-deps.sh)" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/home"
export HOME="$work/home" XDG_DATA_HOME="$work/home/data" ANOMALYLENS_SETTINGS="$work/home/settings.ini"
export ANOMALYLENS_TRAINING_DIR="$work/home/training" ANOMALYLENS_THREADS=1
rss_kb() { grep -E "Maximum resident set size" "$1" | grep -oE "[0-9]+$"; }

# ---- 1. A 2,000-slice series -------------------------------------------------------------------
"$cli" phantom mri --out "$work/mri" --healthy 1 --anomalous 0 --format dicom --seed 3 >/dev/null 2>&1
base=$(find "$work/mri" -path "*T1/*" -name "*.dcm" | sort | head -1 || true)  # head may close the pipe early
[ -n "$base" ] || { echo "load_check: no MR slice to copy" >&2; exit 1; }
series="$work/series2000"
mkdir -p "$series"
for i in $(seq 1 2000); do
  f="$series/IM$(printf %05d "$i").dcm"
  cp "$base" "$f"
  dcmodify --no-backup --gen-inst-uid -m "(0020,0013)=$i" -m "(0020,0032)=0\\0\\$i" \
    -m "(0020,0037)=1\\0\\0\\0\\1\\0" -m "(0018,0050)=1" "$f" 2>/dev/null
done
rows=$(dcmdump +P 0028,0010 "$base" | grep -oE "US [0-9]+" | grep -oE "[0-9]+")
cols=$(dcmdump +P 0028,0011 "$base" | grep -oE "US [0-9]+" | grep -oE "[0-9]+")
voxel_mib=$(( rows * cols * 2000 * 4 / 1048576 ))  # at most float32 per voxel
/usr/bin/time -v "$cli" info "$series" >"$work/series.out" 2>"$work/series.time"
grep -qE "x 2000( |$)" "$work/series.out" || { cat "$work/series.out" >&2; echo "load_check: the series did not read as 2000 slices" >&2; exit 1; }
rss=$(( $(rss_kb "$work/series.time") / 1024 ))
echo "load_check: info read the ${cols}x${rows}x2000 series in $(grep -oE "Elapsed.*: .*" "$work/series.time" | cut -d' ' -f8) with $rss MiB resident (voxels at most $voxel_mib MiB)"
[ "$rss" -le $(( 2 * voxel_mib + 400 )) ] || { echo "load_check: info used $rss MiB for the series" >&2; exit 1; }
set +e
/usr/bin/time -v "$xvfb" -a -s "-screen 0 1400x900x24" "$viewer" --no-model --screenshot "$work/series.png" "$series" \
  >"$work/viewer-series.log" 2>"$work/viewer-series.time"
rc=$?
set -e
[ "$rc" -eq 0 ] && [ -s "$work/series.png" ] || { tail -20 "$work/viewer-series.time" >&2; echo "load_check: the viewer did not show the series" >&2; exit 1; }
rss=$(( $(rss_kb "$work/viewer-series.time") / 1024 ))
echo "load_check: the viewer showed the series with $rss MiB resident"
[ "$rss" -le $(( 2 * voxel_mib + 400 )) ] || { echo "load_check: the viewer used $rss MiB for the series" >&2; exit 1; }
rm -rf "$series" "$work/mri"

# ---- 2. A 4 GiB volume under a 1 GiB budget ----------------------------------------------------
big="$work/big_volume.nii"
python3 - "$big" <<'PY'
import struct, sys
nx, ny, nz = 2048, 2048, 256  # float32: 4 GiB
hdr = bytearray(348)
struct.pack_into("<i", hdr, 0, 348)
struct.pack_into("<8h", hdr, 40, 3, nx, ny, nz, 1, 1, 1, 1)
struct.pack_into("<hh", hdr, 70, 16, 32)            # datatype float32, bitpix
struct.pack_into("<8f", hdr, 76, 1, 1, 1, 1, 1, 1, 1, 1)
struct.pack_into("<f", hdr, 108, 352.0)             # vox_offset
struct.pack_into("<f", hdr, 112, 1.0)               # scl_slope
hdr[344:348] = b"n+1\0"
with open(sys.argv[1], "wb") as f:
    f.write(hdr + b"\0" * 4)
    f.truncate(352 + nx * ny * nz * 4)               # sparse: the voxels take no disk
PY
export ANOMALYLENS_MEMORY_BUDGET_MB=1024
set +e
/usr/bin/time -v "$cli" info "$big" >"$work/big.out" 2>"$work/big.err"
rc=$?
/usr/bin/time -v "$xvfb" -a -s "-screen 0 1400x900x24" "$viewer" --no-model --screenshot "$work/big.png" "$big" \
  >"$work/viewer-big.log" 2>"$work/viewer-big.err"
vrc=$?
set -e
unset ANOMALYLENS_MEMORY_BUDGET_MB
[ "$rc" -ne 0 ] || { echo "load_check: info read a 4 GiB volume under a 1 GiB budget" >&2; exit 1; }
grep -q "big_volume.nii" "$work/big.err" && grep -q "memory budget" "$work/big.err" || {
  cat "$work/big.err" >&2; echo "load_check: info's refusal does not name the file and the budget" >&2; exit 1; }
echo "load_check: info refused it: $(grep -m1 "memory budget" "$work/big.err")"
[ $(( $(rss_kb "$work/big.err") / 1024 )) -le 300 ] || { echo "load_check: info took $(( $(rss_kb "$work/big.err") / 1024 )) MiB to refuse" >&2; exit 1; }
[ "$vrc" -ne 0 ] && grep -q "memory budget" "$work/viewer-big.err" "$work/viewer-big.log" || {
  tail -5 "$work/viewer-big.err" >&2; echo "load_check: the viewer did not refuse the 4 GiB volume with the reason" >&2; exit 1; }
echo "load_check: the viewer refused it with $(( $(rss_kb "$work/viewer-big.err") / 1024 )) MiB resident"
[ $(( $(rss_kb "$work/viewer-big.err") / 1024 )) -le 600 ] || { echo "load_check: the viewer took too much memory to refuse" >&2; exit 1; }
rm -f "$big"

# ---- 3. 200 studies in one process -------------------------------------------------------------
"$cli" phantom oct --out "$work/oct200" --healthy 150 --anomalous 50 --format nifti --bscans 1 --seed 21 >/dev/null 2>&1
"$cli" infer --model "$models/a2bgan-oct-lite.json" --input "$work/oct200" --out "$work/infer200" --no-overlays \
  >"$work/infer200.log" 2>&1 &
pid=$!
: >"$work/rss.tsv"
while kill -0 "$pid" 2>/dev/null; do
  kb=$(grep -E "^VmRSS" "/proc/$pid/status" 2>/dev/null | grep -oE "[0-9]+" || true)
  done_=$(find "$work/infer200" -name "*_difference.nii.gz" 2>/dev/null | wc -l || true)
  [ -n "$kb" ] && echo "$done_ $kb" >>"$work/rss.tsv"
  sleep 0.2
done
wait "$pid" || { tail -5 "$work/infer200.log" >&2; echo "load_check: infer failed on the 200 studies" >&2; exit 1; }
scored=$(find "$work/infer200" -name "*_difference.nii.gz" | wc -l)
[ "$scored" -eq 200 ] || { echo "load_check: $scored of 200 studies scored" >&2; exit 1; }
python3 - "$work/rss.tsv" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
early = [kb for n, kb in rows if 20 <= n <= 40]
late = [kb for n, kb in rows if n >= 180]
if not early or not late:
    sys.exit("load_check: too few memory samples (%d)" % len(rows))
a, b = max(early) / 1024, max(late) / 1024
print("load_check: infer scored 200 studies; resident %.0f MiB after 20-40 studies, %.0f MiB after 180+: growth %+.1f MiB" % (a, b, b - a))
if b - a > 64:
    sys.exit("load_check: resident memory grew by %.0f MiB over 160 studies" % (b - a))
PY

#!/usr/bin/env bash
# Seed corpora for the fuzz targets, from the project's own writers:
#   make_corpora.sh FUZZ_MAKE_SEEDS OUT_DIR
# FUZZ_MAKE_SEEDS (built from tests/fuzz/make_seeds.cpp) writes small DICOM, NIfTI/Analyze/
# MetaImage/NRRD, B-scan images, a session, manifests and a model file; DCMTK's tools (Debian's
# dcmtk) then re-encode the DICOM seeds in every transfer syntax they write and make a DICOMDIR.
set -euo pipefail
seeds_bin=$1 out=$2
rm -rf "$out"
mkdir -p "$out"
"$seeds_bin" "$out"
# (.vol has no writer in the project: its seeds are committed in tests/fuzz/corpus/heidelberg_vol.)

d="$out/dicom_file"
for tool in dcmconv dcmcrle dcmcjpeg dcmcjpls dcmmkdir; do
  command -v "$tool" >/dev/null || { echo "make_corpora: $tool is missing (Debian's dcmtk: installer/install-deps.sh)" >&2; exit 1; }
done
for src in "$d"/mr_IM00001.dcm "$d"/oct_multiframe.dcm "$d"/cr_monochrome2.dcm; do
  [ -f "$src" ] || { echo "make_corpora: $src was not written" >&2; exit 1; }
  base=$(basename "$src" .dcm)
  dcmconv --quiet +ti "$src" "$d/${base}_implicit.dcm"
  dcmconv --quiet +tb "$src" "$d/${base}_big_endian.dcm"
  dcmconv --quiet +td "$src" "$d/${base}_deflated.dcm"
  dcmcrle --quiet "$src" "$d/${base}_rle.dcm"
  dcmcjpeg --quiet +el "$src" "$d/${base}_jpeg_lossless.dcm"
  dcmcjpeg --quiet +e1 "$src" "$d/${base}_jpeg_sv1.dcm"
  dcmcjpls --quiet +el "$src" "$d/${base}_jpegls_lossless.dcm"
done
# Near-lossless JPEG-LS takes unsigned pixels only.
for src in "$d"/oct_multiframe.dcm "$d"/cr_monochrome2.dcm; do
  dcmcjpls --quiet +en "$src" "$d/$(basename "$src" .dcm)_jpegls_near.dcm"
done
# Baseline (8-bit) JPEG from the 8-bit OCT.
dcmcjpeg --quiet +eb "$d/oct_multiframe.dcm" "$d/oct_multiframe_jpeg_baseline.dcm"

# A DICOMDIR over the MR series (file IDs in the media format: upper case, 8 characters).
media="$out/media"
mkdir -p "$media/SERIES" "$out/dicomdir"
i=0
for f in "$d"/mr_IM0000?.dcm; do
  i=$((i + 1))
  cp "$f" "$media/SERIES/IM$(printf %06d $i)"
done
(cd "$media" && dcmmkdir --quiet --recurse +I SERIES)
cp "$media/DICOMDIR" "$out/dicomdir/DICOMDIR"
rm -rf "$media"

for t in "$out"/*/; do echo "make_corpora: $(basename "$t"): $(find "$t" -type f | wc -l) seeds"; done

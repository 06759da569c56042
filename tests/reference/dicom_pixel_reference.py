#!/usr/bin/python3
"""Decodes every DICOM file under ../shared/realdata/dicom with pydicom (Debian's python3-pydicom,
with Pillow/OpenJPEG, GDCM and its own RLE and native handlers) and writes what AnomalyLens must
read from each one, in AnomalyLens's conventions (the modality rescale applied, MONOCHROME1
inverted so that higher is brighter, colour as RGB planes): the shape, the value range, the mean
and 32 values at fixed positions. tests/core/test_codecs.cpp compares the reader against it.

    /usr/bin/python3 tests/reference/dicom_pixel_reference.py ../shared/realdata > tests/fixtures/dicom_pixel_reference.json

Files pydicom cannot decode are left out (the test says how many it compared). Each file is
decoded in a child process: GDCM's Python binding crashes on some of the malformed files."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_color_lut, apply_modality_lut, convert_color_space

from pydicom.pixel_data_handlers import gdcm_handler, numpy_handler, pillow_handler, rle_handler

warnings.simplefilter("ignore")
pydicom.config.pixel_data_handlers = [numpy_handler, rle_handler, pillow_handler, gdcm_handler]
LOSSY = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.91",
         "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.203"}


def describe(path):
    """The expected values of one file, or None."""
    try:
        ds = pydicom.dcmread(path)
        if "PixelData" not in ds:
            return None
        arr = ds.pixel_array
    except Exception:
        return None
    try:
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        samples = int(getattr(ds, "SamplesPerPixel", 1))
        photometric = str(getattr(ds, "PhotometricInterpretation", ""))
        tsuid = str(ds.file_meta.TransferSyntaxUID) if "TransferSyntaxUID" in ds.file_meta else ""
        if samples == 3:
            # pydicom returns YBR_FULL(_422) as stored (Pillow is told not to convert); JPEG 2000's
            # YBR_ICT/YBR_RCT come out as RGB from OpenJPEG's inverse component transform.
            if photometric in ("YBR_FULL", "YBR_FULL_422"):
                arr = convert_color_space(arr, photometric, "RGB")
            arr = arr.reshape((frames, ds.Rows, ds.Columns, 3)).astype(np.float64)
            arr = np.moveaxis(arr, 3, 1)  # frames, channel, rows, columns
            if ds.BitsAllocated > 8:
                return None  # AnomalyLens shows colour as 8 bits
        elif samples == 1 and photometric in ("MONOCHROME1", "MONOCHROME2"):
            arr = arr.reshape((frames, ds.Rows, ds.Columns)).astype(np.float64)
            stored = int(ds.BitsStored)
            signed = int(getattr(ds, "PixelRepresentation", 0)) == 1
            lo = -(2 ** (stored - 1)) if signed else 0
            hi = 2 ** (stored - 1) - 1 if signed else 2 ** stored - 1
            if signed and stored < int(ds.BitsAllocated):
                # two's complement within Bits Stored (PS3.5 8.1.1), which not every pydicom
                # handler applies
                arr = np.where((arr >= 2 ** (stored - 1)) & (arr < 2 ** stored), arr - 2 ** stored, arr)
            if photometric == "MONOCHROME1":
                arr = (lo + hi) - arr
            slope = float(getattr(ds, "RescaleSlope", 1) or 1)
            intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
            if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
                return None
            if "ModalityLUTSequence" in ds:
                arr = apply_modality_lut(arr, ds).astype(np.float64)
            else:
                arr = arr * slope + intercept
            arr = arr[:, None]
        elif samples == 1 and photometric == "PALETTE COLOR":
            # Shown as 8-bit RGB through the palette: 16-bit entries scaled to 8 bits.
            rgb = apply_color_lut(arr, ds).astype(np.float64)
            bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
            if bits == 16:
                rgb = np.floor(rgb / 256.0)
            arr = np.moveaxis(rgb.reshape((frames, ds.Rows, ds.Columns, 3)), 3, 1)
        else:
            return None  # others: shown differently
    except Exception:
        return None
    flat = arr.reshape(-1)
    rng = np.random.default_rng(7)
    positions = sorted(int(p) for p in rng.integers(0, flat.size, 32))
    return {
        "frames": frames, "channels": int(arr.shape[1]), "rows": int(arr.shape[2]), "columns": int(arr.shape[3]),
        "min": float(flat.min()), "max": float(flat.max()), "mean": float(flat.mean()),
        "positions": positions, "values": [float(flat[p]) for p in positions],
        "transfer_syntax": tsuid, "photometric": photometric,
        # lossy compression, or a colour conversion whose rounding differs between libraries
        "lossy": tsuid in LOSSY or photometric.startswith("YBR_FULL"),
    }


if sys.argv[1] == "--one":
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # GDCM's console warnings
    print(json.dumps(describe(sys.argv[2])))
    sys.exit(0)
# Where pydicom's own decode is wrong, the expected values are those of the same image stored
# another way (uncompressed, or not fragmented), decoded by pydicom:
TWINS = {
    # GDCM's JPEG-LS path returns zeros for these
    "dicom/wg04/JLSL/MR1_JLSL": "dicom/wg04/REF/MR1_UNC",
    "dicom/dicomparser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.80.dcm":
        "dicom/dicomparser/encapsulated/multi-frame/CT0012.not_fragmented_bot_jpeg_ls.80.dcm",
    "dicom/dicomparser/encapsulated/multi-frame/CT0012.fragmented_no_bot_jpeg_ls.81.dcm":
        "dicom/dicomparser/encapsulated/multi-frame/CT0012.not_fragmented_bot_jpeg_ls.80.dcm",
    # Pillow scales 1-bit JPEG 2000 to 0/128
    "dicom/pydicom-data/liver_j2k.dcm": "dicom/pydicom-data/liver.dcm",
    "dicom/pydicom-data/liver_nonbyte_aligned_j2k.dcm": "dicom/pydicom-data/liver_nonbyte_aligned.dcm",
    # pydicom 2.3 returns zeros for big-endian palette images
    "dicom/pydicom-data/OBXXXX1A_expb.dcm": "dicom/pydicom-data/OBXXXX1A.dcm",
    "dicom/pydicom-data/OBXXXX1A_expb_2frame.dcm": "dicom/pydicom-data/OBXXXX1A_2frame.dcm",
    # pydicom 2.3 mixes the planes of this odd-sized big-endian RGB file
    "dicom/pydicom/SC_rgb_small_odd_big_endian.dcm": "dicom/pydicom/SC_rgb_small_odd.dcm",
}
root = sys.argv[1]
out = {}
for dirpath, _, files in sorted(os.walk(os.path.join(root, "dicom"))):
    for name in sorted(files):
        path = os.path.join(dirpath, name)
        relative = os.path.relpath(path, root)
        source = os.path.join(root, TWINS.get(relative, relative))
        run = subprocess.run([sys.executable, __file__, "--one", source], capture_output=True, text=True, timeout=300)
        if run.returncode == 0 and run.stdout.strip() not in ("", "null"):
            out[relative] = json.loads(run.stdout)
            if relative in TWINS:
                own = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
                out[relative].update(twin=TWINS[relative], transfer_syntax=own, lossy=out[relative]["lossy"] or own in LOSSY)
json.dump(out, sys.stdout, indent=0, sort_keys=True)
print()

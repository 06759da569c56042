#!/usr/bin/env python3
"""Writes the training manifest of the real-brain ADM (adm-brain-open-ms) from the open-ms data.

    open_ms_manifest.py OPEN_MS_DIR OUT_DIR [--held-out patient19]

OPEN_MS_DIR holds patientNN/patientNN_{t1,t1ce,t2,flair,seg}.nii.gz (the Ljubljana MS set,
CC BY, Lesjak et al., Neuroinformatics 2018). The data stay where they are: the manifest names
them by absolute path. Every patient but the held-out one trains (split "train": the engine
takes their lesion-free slices as healthy images, by their lesion masks, and with
--lesion-margin-mm the tissue of their lesion slices away from the lesions). The held-out patient
is cut into blocks of 20 axial slices, alternately validation and test, so that the two parts do
not share neighbouring slices: each part is the patient once more, with per-slice labels that
count only its own blocks (-1 elsewhere). A slice is abnormal with at least 10 lesion voxels,
healthy with none, and not counted in between, as the engine labels slices from a mask.
Standard library only: NIfTI-1 headers and uint8/float32 masks are read by hand.
"""
import argparse
import gzip
import json
import os
import struct
import sys

BLOCK = 20
MIN_LESION_VOXELS = 10


def slice_lesion_counts(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if struct.unpack("<i", data[0:4])[0] != 348:
        sys.exit(f"{path}: not a little-endian NIfTI-1 file")
    dims = struct.unpack("<8h", data[40:56])
    datatype = struct.unpack("<h", data[70:72])[0]
    offset = int(struct.unpack("<f", data[108:112])[0])
    nx, ny, nz = dims[1], dims[2], dims[3]
    kinds = {2: ("B", 1), 4: ("h", 2), 8: ("i", 4), 16: ("f", 4), 64: ("d", 8)}
    if datatype not in kinds:
        sys.exit(f"{path}: NIfTI datatype {datatype} is not read here")
    code, size = kinds[datatype]
    plane = nx * ny
    counts = []
    for z in range(nz):
        start = offset + z * plane * size
        values = struct.unpack(f"<{plane}{code}", data[start:start + plane * size])
        counts.append(sum(1 for v in values if v > 0))
    return counts


def label(count):
    if count >= MIN_LESION_VOXELS:
        return 1
    return 0 if count == 0 else -1


def case(folder, name):
    files = {c: os.path.join(folder, f"{name}_{c}.nii.gz") for c in ("t1", "t1ce", "t2", "flair", "seg")}
    for f in files.values():
        if not os.path.exists(f):
            sys.exit(f"{f}: missing")
    return {"id": name, "label": 1, "mask": files["seg"],
            "contrasts": {"T1": files["t1"], "T1c": files["t1ce"], "T2": files["t2"], "FLAIR": files["flair"]}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("open_ms")
    ap.add_argument("out")
    ap.add_argument("--held-out", default="patient19")
    a = ap.parse_args()
    root = os.path.abspath(a.open_ms)
    patients = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if a.held_out not in patients:
        sys.exit(f"{root}: no {a.held_out} (found {', '.join(patients)})")
    cases = []
    for p in patients:
        c = case(os.path.join(root, p), p)
        if p != a.held_out:
            cases.append(dict(c, split="train"))
            continue
        labels = [label(n) for n in slice_lesion_counts(c["mask"])]
        for split, parity in (("val", 0), ("test", 1)):
            mine = [l if (z // BLOCK) % 2 == parity else -1 for z, l in enumerate(labels)]
            cases.append(dict(c, id=f"{p}-{split}", split=split, labels=mine))
            print(f"{p} {split}: {mine.count(1)} abnormal and {mine.count(0)} healthy slices", file=sys.stderr)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump({"source": root, "cases": cases}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()

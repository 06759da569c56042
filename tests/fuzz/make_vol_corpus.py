#!/usr/bin/env python3
"""Writes the seed corpus for the Heidelberg .vol fuzzer: small files in the published layout
(2048-byte header, SLO image, B-scan headers with layer lines, float32 B-scans) and broken
variants of them. Run from the repository root: python3 tests/fuzz/make_vol_corpus.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "heidelberg_vol")


def vol(size_x=16, n_bscans=3, size_z=24, slo=(8, 8), num_seg=3, header=256, magic=b"HSF-OCT-103\0"):
    h = bytearray(2048)
    h[0:12] = magic
    struct.pack_into("<iii", h, 12, size_x, n_bscans, size_z)
    struct.pack_into("<ddd", h, 24, 0.0117, 0.12, 0.0039)
    struct.pack_into("<ii", h, 48, slo[0], slo[1])
    struct.pack_into("<ddi", h, 56, 0.0118, 0.0118, 30)
    h[84:88] = b"OS\0\0"
    struct.pack_into("<ii", h, 96, 0, header + num_seg * size_x * 4)
    h[140:148] = b"PAT-0001"
    struct.pack_into("<d", h, 164, 25569.0)  # 1970-01-01
    struct.pack_into("<d", h, 200, 45000.0)
    data = bytes(h) + bytes((x * 7 + y * 3) % 256 for y in range(slo[1]) for x in range(slo[0]))
    hdr_size = header + num_seg * size_x * 4
    for b in range(n_bscans):
        bh = bytearray(hdr_size)
        bh[0:12] = b"HSF-BS-103\0\0"
        struct.pack_into("<i", bh, 12, hdr_size)
        struct.pack_into("<dddd", bh, 16, 0.5, 1.0 + b * 0.12, 6.5, 1.0 + b * 0.12)
        struct.pack_into("<iif", bh, 48, num_seg, header, 25.0)
        for layer in range(num_seg):
            for x in range(size_x):
                struct.pack_into("<f", bh, header + (layer * size_x + x) * 4, 5.0 + layer * 4 + (x % 3))
        pixels = bytearray()
        for z in range(size_z):
            for x in range(size_x):
                v = 0.3 if 6 <= z < 14 else 0.01
                if z == 0 and x == 0:
                    v = 3.4028235e38  # invalid marker
                pixels += struct.pack("<f", v)
        data += bytes(bh) + bytes(pixels)
    return data


def main():
    os.makedirs(OUT, exist_ok=True)
    good = vol()
    seeds = {
        "valid.vol": good,
        "valid_no_slo_no_layers.vol": vol(slo=(0, 0), num_seg=0),
        "other_writer_magic.vol": vol(magic=b"ep-v0.6.8   "),
        "truncated_in_bscans.vol": good[: len(good) - 700],
        "truncated_in_header.vol": good[:1000],
        "huge_dimensions.vol": good[:12] + struct.pack("<iii", 100000, 100000, 100000) + good[24:],
        "negative_dimensions.vol": good[:12] + struct.pack("<iii", -5, 3, 24) + good[24:],
        "bad_bscan_header_size.vol": good[:100] + struct.pack("<i", 2 ** 30) + good[104:],
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

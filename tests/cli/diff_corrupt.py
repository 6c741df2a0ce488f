#!/usr/bin/env python3
"""Deliberately break a copied checkpoint for the g2diff gate tests (stdlib only).

  diff_corrupt.py negate-rows  DIR TENSOR ROW0 ROW1 [--file-match S]  flip the sign of rows
  diff_corrupt.py swap-rows    DIR TENSOR A B N                       swap row blocks [A,A+N) and [B,B+N)
  diff_corrupt.py transpose    DIR TENSOR                             transpose a square matrix in place
  diff_corrupt.py scale-elem   DIR TENSOR INDEX FACTOR                multiply one F32 element (an FP8 scale)
  diff_corrupt.py config       DIR KEY JSON                           set a config.json field
  diff_corrupt.py used-expert  ACTS.safetensors LAYER                 print an expert routed in LAYER
"""
import glob
import json
import os
import struct
import sys

SIZES = {"F32": 4, "BF16": 2, "F16": 2, "F8_E4M3": 1, "I8": 1, "I32": 4}


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def locate(d, name, match=None):
    for p in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
        if match and match not in os.path.basename(p):
            continue
        h, base = header(p)
        if name in h:
            return p, h[name], base
    sys.exit(f"diff_corrupt: {name} not found in {d} (match {match})")


def edit(path, info, base, fn):
    b, e = info["data_offsets"]
    with open(path, "r+b") as f:
        f.seek(base + b)
        data = bytearray(f.read(e - b))
        fn(data, info)
        f.seek(base + b)
        f.write(data)


def row_bytes(info):
    n = SIZES[info["dtype"]]
    for s in info["shape"][1:]:
        n *= s
    return n


def main():
    a = sys.argv[1:]
    op = a[0]
    if op == "used-expert":
        h, base = header(a[1])
        info = h[f"layers.{a[2]}.experts"]
        b, e = info["data_offsets"]
        with open(a[1], "rb") as f:
            f.seek(base + b)
            ids = struct.unpack(f"<{(e - b) // 4}i", f.read(e - b))
        print(ids[0])
        return
    if op == "config":
        p = os.path.join(a[1], "config.json")
        c = json.load(open(p))
        c[a[2]] = json.loads(a[3])
        json.dump(c, open(p, "w"), indent=2)
        return
    match = None
    if "--file-match" in a:
        i = a.index("--file-match")
        match = a[i + 1]
        a = a[:i] + a[i + 2:]
    path, info, base = locate(a[1], a[2], match)
    if op == "negate-rows":
        r0, r1 = int(a[3]), int(a[4])

        def fn(d, inf):
            rb, es = row_bytes(inf), SIZES[inf["dtype"]]
            for i in range(r0 * rb, r1 * rb, es):
                d[i + es - 1] ^= 0x80  # little-endian: sign bit in the last byte
        edit(path, info, base, fn)
    elif op == "swap-rows":
        x, y, n = int(a[3]), int(a[4]), int(a[5])

        def fn(d, inf):
            rb = row_bytes(inf)
            bx, by = d[x * rb:(x + n) * rb], d[y * rb:(y + n) * rb]
            d[x * rb:(x + n) * rb], d[y * rb:(y + n) * rb] = by, bx
        edit(path, info, base, fn)
    elif op == "transpose":
        def fn(d, inf):
            r, c = inf["shape"]
            assert r == c, "transpose needs a square matrix"
            es = SIZES[inf["dtype"]]
            src = bytes(d)
            for i in range(r):
                for j in range(c):
                    d[(j * r + i) * es:(j * r + i + 1) * es] = src[(i * c + j) * es:(i * c + j + 1) * es]
        edit(path, info, base, fn)
    elif op == "scale-elem":
        k, factor = int(a[3]), float(a[4])

        def fn(d, inf):
            assert inf["dtype"] == "F32"
            v = struct.unpack_from("<f", d, 4 * k)[0]
            struct.pack_into("<f", d, 4 * k, v * factor)
        edit(path, info, base, fn)
    else:
        sys.exit(f"diff_corrupt: unknown op {op}")


if __name__ == "__main__":
    main()

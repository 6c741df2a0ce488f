#!/usr/bin/env python3
"""The TP8 -> TP4 reshard of a Grok-2 release-style (`tp` layout) set as users write it today
with the `safetensors` and `numpy` packages: load each rank file, concatenate the expert slices
of rank pairs on their split axis, save per new rank; load and save the common files. Used by
bench/run.sh as the baseline g2convert is compared with (time and peak RSS); not part of g2kit.

BF16 has no NumPy dtype: safetensors' NumPy loader does not accept it, so the script reads the
safetensors header and maps the tensors as ml_dtypes.bfloat16 (the usual workaround), then
writes with safetensors.numpy.save_file.
usage: python_reshard.py SRC_TP8_DIR OUT_DIR NEW_TP"""
import json, os, re, shutil, struct, sys

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

DT = {"BF16": ml_dtypes.bfloat16, "F32": np.float32, "F16": np.float16, "I8": np.int8, "U8": np.uint8,
      "F8_E4M3": ml_dtypes.float8_e4m3fn, "I32": np.int32}


def load(path):
    """Every tensor of a safetensors file as NumPy arrays (read fully, like load_file)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data, dtype=DT[info["dtype"]], count=(e - b) // np.dtype(DT[info["dtype"]]).itemsize,
                                  offset=b).reshape(info["shape"])
    return out


def split_axis(name):
    # Row-parallel w2 (down) is split on its input axis, column-parallel w1/w3 on the output.
    return 1 if name.endswith(".w2.weight") else 0


def main():
    src, out, new_tp = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    files = sorted(os.listdir(src))
    rank_re = re.compile(r"pytorch_model-(\d{5})-TP-(\d{3})\.safetensors$")
    groups = {}
    for f in files:
        m = rank_re.match(f)
        if m:
            groups.setdefault(m.group(1), []).append(int(m.group(2)))
        elif f.endswith(".safetensors"):
            save_file(load(os.path.join(src, f)), os.path.join(out, f), metadata={"format": "pt"})
        elif f == "config.json":
            cfg = json.load(open(os.path.join(src, f)))
            if "g2_layout" in cfg:
                cfg["g2_layout"]["tp"] = new_tp
            json.dump(cfg, open(os.path.join(out, f), "w"), indent=2)
        elif not f.startswith("g2manifest"):
            shutil.copy(os.path.join(src, f), os.path.join(out, f))
    for group, ranks in groups.items():
        old_tp = len(ranks)
        per = old_tp // new_tp
        for r in range(new_tp):
            parts = [load(os.path.join(src, "pytorch_model-%s-TP-%03d.safetensors" % (group, r * per + i)))
                     for i in range(per)]
            merged = {n: np.concatenate([p[n] for p in parts], axis=split_axis(n)) for n in parts[0]}
            save_file(merged, os.path.join(out, "pytorch_model-%s-TP-%03d.safetensors" % (group, r)),
                      metadata={"format": "pt"})
            del parts, merged


if __name__ == "__main__":
    main()

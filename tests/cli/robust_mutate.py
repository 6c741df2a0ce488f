#!/usr/bin/env python3
"""Apply one small mutation to a checkpoint directory (the bad-input catalogue, robust_catalogue.sh).

    robust_mutate.py DIR 'PYTHON SNIPPET'

The snippet runs with DIR as the working directory and these helpers in scope, so each
catalogue case is one line. Stdlib only, except the pickle helpers, which need numpy
(they only build the pickle; nothing here ever loads one).
"""
import glob
import json
import os
import struct
import sys


def files(pattern):
    """Sorted file names matching a glob pattern."""
    return sorted(glob.glob(pattern))


def big(pattern="*.safetensors"):
    """The largest file matching pattern (holds the most tensors)."""
    return max(files(pattern), key=os.path.getsize)


def H(f):
    """The JSON header of safetensors file f (dict, insertion-ordered)."""
    with open(f, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        return json.loads(fh.read(n))


def _data(f):
    with open(f, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        fh.seek(8 + n)
        return fh.read()


def W(f, h, data=None, raw=None):
    """Rewrite f with header h (or raw header bytes) and its old data (or `data`)."""
    d = _data(f) if data is None else data
    hb = raw if raw is not None else json.dumps(h, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    with open(f, "wb") as fh:
        fh.write(struct.pack("<Q", len(hb)) + hb + d)


def hdrlen(f, n):
    """Overwrite the 8-byte header length."""
    with open(f, "r+b") as fh:
        fh.write(struct.pack("<Q", n))


def trunc(f, n):
    """Keep the first n bytes (n < 0: drop -n bytes from the end)."""
    size = os.path.getsize(f)
    os.truncate(f, n if n >= 0 else size + n)


def poke(f, tensor, index, raw):
    """Overwrite element `index` of `tensor` with the bytes `raw`."""
    with open(f, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
    begin = H(f)[tensor]["data_offsets"][0]
    with open(f, "r+b") as fh:
        fh.seek(8 + n + begin + index * len(raw))
        fh.write(raw)


def first(f, part):
    """Name of the first tensor of f containing `part`."""
    return next(k for k in H(f) if k != "__metadata__" and part in k)


def pick(part, pattern="*.safetensors"):
    """(file, tensor): the largest file holding a tensor whose name contains `part`."""
    for f in sorted(files(pattern), key=os.path.getsize, reverse=True):
        names = [k for k in H(f) if k != "__metadata__" and part in k]
        if names:
            return f, names[0]
    raise SystemExit("no tensor containing " + part)


def J(f):
    with open(f) as fh:
        return json.load(fh)


def JW(f, obj):
    with open(f, "w") as fh:
        json.dump(obj, fh, indent=1)


def cfg(**kv):
    """Set (value) or delete (None) fields of ./config.json."""
    c = J("config.json")
    for k, v in kv.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    JW("config.json", c)


def put(f, text):
    with open(f, "wb") as fh:
        fh.write(text if isinstance(text, bytes) else text.encode())


def rm(f):
    os.remove(f)


def pkl_global(f, module, name):
    """A pickle whose first global is module.name (called with one argument on load)."""
    put(f, b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n" + b"X\x04\x00\x00\x00trueq\x00\x85R.")


def pkl_array(f, shape, payload=b"\0" * 16, dtype="float32", protocol=4):
    """A numpy-array pickle claiming `shape` but carrying only `payload` bytes."""
    import pickle

    import numpy as np

    recon, args, state = np.zeros(1, dtype).__reduce__()

    class Fake:
        def __reduce__(self):
            return recon, args, (state[0], tuple(shape), state[2], False, payload)

    put(f, pickle.dumps(Fake(), protocol=protocol))


BF16_NAN, BF16_INF, F32_NAN, F32_ZERO = b"\xc0\x7f", b"\x80\x7f", b"\x00\x00\xc0\x7f", b"\0\0\0\0"

if __name__ == "__main__":
    os.chdir(sys.argv[1])
    exec(sys.argv[2].strip())

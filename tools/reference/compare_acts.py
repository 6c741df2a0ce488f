#!/usr/bin/env python3
"""Compare two activation files written by the reference drivers.

  compare_acts.py A.safetensors B.safetensors [--atol X] [--max-expert-mismatch N]

Prints, per tensor, max |a-b|, max |a|, the relative figure max|a-b|/max|a|,
and for experts the number of (token, slot) entries whose chosen-expert set
differs. Exit status 1 if --atol is given and exceeded for logits, or if more
expert sets differ than allowed.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--atol", type=float, default=None, help="max allowed |diff| on logits")
    ap.add_argument("--max-expert-mismatch", type=int, default=None)
    a = ap.parse_args()
    A, ma = rc.read_activations(a.a)
    B, mb = rc.read_activations(a.b)
    if ma.get("tokens") != mb.get("tokens"):
        print(f"warning: token lists differ: {ma.get('tokens')} vs {mb.get('tokens')}")
    bad = False
    total_mis = 0

    def key(k):
        parts = k.split(".")
        if k.startswith("layers.") and parts[1].isdigit():
            return (0, int(parts[1]), k)
        return (1 if k == "logits" else 2, 0, k)

    for k in sorted(set(A) | set(B), key=key):
        if k not in A or k not in B:
            print(f"{k:32s} missing in {'A' if k not in A else 'B'}")
            bad = True
            continue
        x, y = A[k], B[k]
        if x.shape != y.shape:
            print(f"{k:32s} shape {x.shape} vs {y.shape}")
            bad = True
            continue
        if k.endswith(".experts"):
            mis = sum(set(x[t]) != set(y[t]) for t in range(x.shape[0]))
            order = int(np.sum(x != y))
            total_mis += mis
            print(f"{k:32s} token sets differing: {mis}/{x.shape[0]}  slots differing: {order}")
            continue
        d = float(np.max(np.abs(x.astype(np.float64) - y)))
        m = float(np.max(np.abs(x)))
        print(f"{k:32s} max|diff| {d:.3e}  max|a| {m:.3e}  rel {d / max(m, 1e-30):.3e}")
        if k == "logits" and a.atol is not None and d > a.atol:
            bad = True
    if a.max_expert_mismatch is not None and total_mis > a.max_expert_mismatch:
        bad = True
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

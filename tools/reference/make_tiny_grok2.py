#!/usr/bin/env python3
"""Synthesize a tiny Grok-2 checkpoint (BF16 safetensors) for developing the
NumPy reference before g2synth exists. Layouts (docs/reference.md §2):

  --layout hf   model.safetensors.index.json + model-0000N-of-0000M.safetensors
  --layout tp   pytorch_model-00001-TP-common.safetensors (everything but experts)
                + pytorch_model-00002-TP-00R.safetensors, R = 0..--tp-1, holding
                expert w1/w3 row slices and w2 column slices

Weights are [out, in] (PyTorch). Values are "trained-looking": N(0, 1/sqrt(fan_in)),
norm weights ~ 1 + 0.1 N(0,1), so activations stay finite.

  make_tiny_grok2.py --config configs/grok-2-tiny.json --out DIR --seed 0 [--layout tp --tp 8]
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402

_ST_NAMES = {np.dtype(np.float32): "F32", np.dtype(rc.BF16): "BF16", np.dtype(np.int32): "I32"}


def st_write(path, tensors, metadata=None):
    """Minimal safetensors writer (BF16 via ml_dtypes), names in sorted order."""
    header = {}
    off = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        b = a.tobytes()
        header[name] = {"dtype": _ST_NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def build(cfg, seed):
    rng = np.random.default_rng(seed)
    D, V = cfg["hidden_size"], cfg["vocab_size"]
    H, KV, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    E, Fm, Fd = cfg["num_local_experts"], cfg["moe_intermediate_size"], cfg["intermediate_size"]

    def w(out, inp):
        return (rng.standard_normal((out, inp)) / np.sqrt(inp)).astype(rc.BF16)

    def norm():
        return (1.0 + 0.1 * rng.standard_normal(D)).astype(rc.BF16)

    t = {
        "model.embed_tokens.weight": (rng.standard_normal((V, D)) / np.sqrt(D)).astype(rc.BF16),
        "lm_head.weight": w(V, D),
        "model.norm.weight": norm(),
    }
    for L in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{L}."
        t[p + "self_attn.q_proj.weight"] = w(H * hd, D)
        t[p + "self_attn.k_proj.weight"] = w(KV * hd, D)
        t[p + "self_attn.v_proj.weight"] = w(KV * hd, D)
        t[p + "self_attn.o_proj.weight"] = w(D, H * hd)
        for n in ["pre_attn_norm", "post_attn_norm", "pre_moe_norm", "post_moe_norm"]:
            t[p + n + ".weight"] = norm()
        t[p + "block_sparse_moe.gate.weight"] = w(E, D)
        for e in range(E):
            q = p + f"block_sparse_moe.experts.{e}."
            t[q + "w1.weight"] = w(Fm, D)
            t[q + "w3.weight"] = w(Fm, D)
            t[q + "w2.weight"] = w(D, Fm)
        if cfg.get("residual_moe"):
            t[p + "mlp.gate_proj.weight"] = w(Fd, D)
            t[p + "mlp.up_proj.weight"] = w(Fd, D)
            t[p + "mlp.down_proj.weight"] = w(D, Fd)
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layout", choices=["hf", "tp"], default="hf")
    ap.add_argument("--tp", type=int, default=8)
    ap.add_argument("--files", type=int, default=2, help="hf layout: number of shard files")
    a = ap.parse_args()
    cfg = rc.load_config(a.config)
    if rc.is_grok1(cfg):
        sys.exit("make_tiny_grok2.py needs a grok-2 config")
    t = build(cfg, a.seed)
    os.makedirs(a.out, exist_ok=True)
    cfg_out = {k: v for k, v in cfg.items() if not k.startswith("_")}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg_out, f, indent=1)
    meta = {"format": "pt"}
    if a.layout == "hf":
        names = sorted(t)
        n = a.files
        groups = [names[i::n] for i in range(n)]
        wm = {}
        total = 0
        for i, g in enumerate(groups):
            fn = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
            st_write(os.path.join(a.out, fn), {k: t[k] for k in g}, meta)
            for k in g:
                wm[k] = fn
                total += t[k].nbytes
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=1)
    else:
        R = a.tp
        common = {k: v for k, v in t.items() if ".experts." not in k}
        st_write(os.path.join(a.out, "pytorch_model-00001-TP-common.safetensors"), common, meta)
        for r in range(R):
            part = {}
            for k, v in t.items():
                if ".experts." not in k:
                    continue
                if k.endswith("w2.weight"):
                    n = v.shape[1] // R
                    part[k] = v[:, r * n:(r + 1) * n]
                else:
                    n = v.shape[0] // R
                    part[k] = v[r * n:(r + 1) * n, :]
            st_write(os.path.join(a.out, f"pytorch_model-00002-TP-{r:03d}.safetensors"), part, meta)
    print(f"wrote {len(t)} tensors ({a.layout}) to {a.out}")


if __name__ == "__main__":
    main()

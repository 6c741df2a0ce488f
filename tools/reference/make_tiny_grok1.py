#!/usr/bin/env python3
"""Synthesize a tiny Grok-1 JAX-format checkpoint (ckpt-0/tensorNNNNN_000 pickles).

Development aid for the reference drivers only; the golden data is produced
later from g2synth output. Layout follows docs/reference.md section 1: files in
the order JAX flattens the haiku params dict (sorted keys), each a plain
pickle of a float32 ndarray or of a __main__.QuantizedWeight8bit record
(int8 weight + ml_dtypes bfloat16 scales; o-proj and moe/linear_1 carry 8
blocks of scales along the contracting axis).

Run it under numpy < 2 (e.g. the venv-ref interpreter) so the pickles name
numpy.core.multiarray like the released files do and the JAX venv can load
them.

  make_tiny_grok1.py --config configs/grok-1-tiny.json --out DIR --seed 0
"""

import argparse
import json
import os
import pickle
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402

# Pickles must name the class __main__.QuantizedWeight8bit: define it in
# __main__ when run as a script.
QuantizedWeight8bit = rc.QuantizedWeight8bit
if __name__ == "__main__":
    from dataclasses import dataclass
    from typing import Any

    @dataclass
    class QuantizedWeight8bit:  # noqa: F811
        weight: Any
        scales: Any

NUM_SCALE_BLOCKS = 8  # TP degree of the release: blocked scales on contracting axes


def quantize(w: np.ndarray, blocks: int) -> "QuantizedWeight8bit":
    """w [..., K, N] f32 -> int8 + bf16 scales [..., blocks, N]."""
    K = w.shape[-2]
    assert K % blocks == 0
    wb = w.reshape(w.shape[:-2] + (blocks, K // blocks, w.shape[-1]))
    amax = np.max(np.abs(wb), axis=-2)  # [..., blocks, N]
    scales = (np.maximum(amax, 1e-8) / 127.0).astype(rc.BF16)
    s = np.repeat(scales.astype(np.float32), K // blocks, axis=-2)
    q = np.clip(np.rint(w / s), -127, 127).astype(np.int8)
    return QuantizedWeight8bit(weight=q, scales=scales)


def build(cfg, seed):
    rng = np.random.default_rng(seed)
    D = cfg["hidden_size"]
    V = cfg["vocab_size"]
    H = cfg["num_attention_heads"]
    KV = cfg["num_key_value_heads"]
    hd = cfg["head_dim"]
    E = cfg["num_local_experts"]
    F = cfg["moe_intermediate_size"]
    rc.grok1_widening_factor(cfg)  # validates F against the JAX ffn_size()

    def normal(shape, fan_in):
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)

    def norm_scale():
        return (1.0 + 0.1 * rng.standard_normal(D)).astype(np.float32)

    p = {
        "language_model/in_out_embed/embeddings": normal((V, D), D),
        "language_model/rms_norm/scale": norm_scale(),
    }
    for L in range(cfg["num_hidden_layers"]):
        b = f"transformer/decoder_layer_{L}"
        p[f"{b}/multi_head_attention/query/w"] = quantize(normal((D, H * hd), D), 1)
        p[f"{b}/multi_head_attention/key/w"] = quantize(normal((D, KV * hd), D), 1)
        p[f"{b}/multi_head_attention/value/w"] = quantize(normal((D, KV * hd), D), 1)
        p[f"{b}/multi_head_attention/linear/w"] = quantize(normal((H * hd, D), H * hd), NUM_SCALE_BLOCKS)
        p[f"{b}/router/w"] = normal((D, E), D)
        p[f"{b}/moe/linear/w"] = quantize(normal((E, D, F), D), 1)
        p[f"{b}/moe/linear_v/w"] = quantize(normal((E, D, F), D), 1)
        p[f"{b}/moe/linear_1/w"] = quantize(normal((E, F, D), F), NUM_SCALE_BLOCKS)
        for n in ["rms_norm", "rms_norm_1", "rms_norm_2", "rms_norm_3"]:
            p[f"{b}/{n}/scale"] = norm_scale()
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if int(np.__version__.split(".")[0]) >= 2:
        print("warning: numpy >= 2 pickles name numpy._core; the JAX reference venv (numpy 1.26) "
              "cannot read them. Use the venv-ref python.", file=sys.stderr)
    cfg = rc.load_config(a.config)
    if not rc.is_grok1(cfg):
        sys.exit("make_tiny_grok1.py needs a grok-1 config")
    params = build(cfg, a.seed)
    order = rc.grok1_param_order(cfg)
    assert sorted(order) == sorted(params), set(order) ^ set(params)
    d = os.path.join(a.out, "ckpt-0")
    os.makedirs(d, exist_ok=True)
    for i, name in enumerate(order):
        with open(os.path.join(d, f"tensor{i:05d}_000"), "wb") as f:
            pickle.dump(params[name], f, protocol=4)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump({"config": cfg["_name"], "seed": a.seed,
                   "files": {f"tensor{i:05d}_000": n for i, n in enumerate(order)}}, f, indent=1)
    print(f"wrote {len(order)} tensors to {d}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Write a Grok-2-shaped HF safetensors set for a config.json (stdlib only), as the source of
the robustness tests (g2synth writes Grok-1 JAX sets only so far; g2convert makes the TP
and FP8 sets from this one).

    robust_make_hf.py CONFIG OUT [SHARDS]

OUT gets config.json, model-0000i-of-0000n.safetensors (split by layer) and
model.safetensors.index.json. Values: a seeded pool of varied finite bf16 numbers.
"""
import json
import os
import struct
import sys

cfg_path, out = sys.argv[1], sys.argv[2]
shards = int(sys.argv[3]) if len(sys.argv) > 3 else 2
cfg = json.load(open(cfg_path))
cfg.pop("_comment", None)
os.makedirs(out, exist_ok=True)
V, H, I, M = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"], cfg["moe_intermediate_size"]
Q, KV = cfg["num_attention_heads"] * cfg["head_dim"], cfg["num_key_value_heads"] * cfg["head_dim"]
E, L = cfg["num_local_experts"], cfg["num_hidden_layers"]

groups = [[("model.embed_tokens.weight", [V, H]), ("lm_head.weight", [V, H]), ("model.norm.weight", [H])]]
for l in range(L):
    p = "model.layers.%d." % l
    g = [(p + "mlp.gate_proj.weight", [I, H]), (p + "mlp.down_proj.weight", [H, I]), (p + "mlp.up_proj.weight", [I, H])]
    for e in range(E):
        pe = p + "block_sparse_moe.experts.%d." % e
        g += [(pe + "w1.weight", [M, H]), (pe + "w2.weight", [H, M]), (pe + "w3.weight", [M, H])]
    g += [(p + "self_attn.k_proj.weight", [KV, H]), (p + "self_attn.o_proj.weight", [H, Q]),
          (p + "self_attn.q_proj.weight", [Q, H]), (p + "self_attn.v_proj.weight", [KV, H])]
    g += [(p + n + ".weight", [H]) for n in ("pre_attn_norm", "post_attn_norm", "pre_moe_norm", "post_moe_norm")]
    g += [(p + "block_sparse_moe.gate.weight", [E, H])]
    groups.append(g)

# 8192 varied finite bf16 values (xorshift), tiled with a per-tensor offset; norms near 1.
state, pool = 0x2545F491, []
for _ in range(8192):
    state ^= (state << 13) & 0xFFFFFFFF
    state ^= state >> 17
    state ^= (state << 5) & 0xFFFFFFFF
    val = ((state & 0xFFFF) / 65536.0 - 0.5) * 2.0 ** ((state >> 16) % 5 - 4)
    pool.append(struct.unpack("<I", struct.pack("<f", val))[0] >> 16)
raw = struct.pack("<8192H", *pool)
one = struct.pack("<H", 0x3F80)


def payload(i, name, count):
    if name.endswith("norm.weight"):
        return one * count
    start = (i * 193 * 2) % len(raw)
    rep = raw[start:] + raw * (2 * count // len(raw) + 1)
    return rep[:2 * count]


per = (len(groups) + shards - 1) // shards
weight_map, total, k = {}, 0, 0
for s in range(shards):
    fname = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for g in groups[s * per:(s + 1) * per]:
        for name, shape in g:
            count = 1
            for d in shape:
                count *= d
            b = payload(k, name, count)
            k += 1
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + len(b)]}
            blobs.append(b)
            off += len(b)
            weight_map[name] = fname
    total += off
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    with open(os.path.join(out, fname), "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + b"".join(blobs))
json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
          open(os.path.join(out, "model.safetensors.index.json"), "w"), indent=2, sort_keys=True)
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)

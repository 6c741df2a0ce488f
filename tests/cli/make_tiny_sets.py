#!/usr/bin/env python3
"""Write one tiny Grok-2 model in several on-disk layouts for the g2inspect CLI tests.

An independent writer (plain numpy + a hand-written safetensors encoder, SGLang's split rules
written out here again) so the C++ reader is checked against a second reading of the format.

  make_tiny_sets.py OUT   ->  OUT/hf1 (model.safetensors), OUT/hf3 (3 shards + index),
                              OUT/tp2 (release-style: experts in rank files, tp 2),
                              OUT/rank4 (everything split per rank, tp 4: KV heads replicated)
"""
import json, os, struct, sys
import numpy as np

CFG = {"model_type": "grok-2", "vocab_size": 64, "hidden_size": 64, "intermediate_size": 64,
       "moe_intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 8,
       "num_key_value_heads": 2, "head_dim": 8, "num_local_experts": 2, "num_experts_per_tok": 1,
       "residual_moe": True, "max_position_embeddings": 32, "rope_theta": 10000}


def layout(c):
    """(name, shape, split, axis, group, per_rank) with split in {"rep", "axis", "kv"}."""
    H, V, I, M = c["hidden_size"], c["vocab_size"], c["intermediate_size"], c["moe_intermediate_size"]
    Q, KV = c["num_attention_heads"] * c["head_dim"], c["num_key_value_heads"] * c["head_dim"]
    out = [("model.embed_tokens.weight", (V, H), "axis", 0, 0, False),
           ("lm_head.weight", (V, H), "axis", 0, 1, False),
           ("model.norm.weight", (H,), "rep", 0, 2, False)]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out += [(p + "mlp.gate_proj.weight", (I, H), "axis", 0, 3, False),
                (p + "mlp.down_proj.weight", (H, I), "axis", 1, 4, False),
                (p + "mlp.up_proj.weight", (I, H), "axis", 0, 5, False)]
        for e in range(c["num_local_experts"]):
            pe = p + f"block_sparse_moe.experts.{e}."
            out += [(pe + "w1.weight", (M, H), "axis", 0, 6, True), (pe + "w2.weight", (H, M), "axis", 1, 7, True),
                    (pe + "w3.weight", (M, H), "axis", 0, 8, True)]
        out += [(p + "self_attn.k_proj.weight", (KV, H), "kv", 0, 9, False),
                (p + "self_attn.o_proj.weight", (H, Q), "axis", 1, 10, False),
                (p + "self_attn.q_proj.weight", (Q, H), "axis", 0, 11, False),
                (p + "self_attn.v_proj.weight", (KV, H), "kv", 0, 12, False)]
        for g, n in enumerate(["post_attn_norm", "post_moe_norm", "pre_attn_norm", "pre_moe_norm"]):
            out.append((p + n + ".weight", (H,), "rep", 0, 13 + g, False))
        out.append((p + "block_sparse_moe.gate.weight", (c["num_local_experts"], H), "rep", 0, 17, False))
    return out


def bf16(shape, rng):
    f = rng.standard_normal(shape).astype(np.float32) * 0.05
    return (f.view(np.uint32) >> 16).astype(np.uint16)  # truncated to bf16 bits: always finite


def write_safetensors(path, tensors):
    """tensors: list of (name, uint16 array of bf16 bits)."""
    header, off = {}, 0
    for name, a in tensors:
        header[name] = {"dtype": "BF16", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _, a in tensors:
            f.write(np.ascontiguousarray(a).tobytes())


def rank_range(size, split, tp, r, kv):
    if split == "kv" and tp > kv:
        d, head = size // kv, r * kv // tp
        return head * d, (head + 1) * d
    per = size // tp
    return r * per, (r + 1) * per


def write_tp(out, model, tp, kind):
    os.makedirs(out, exist_ok=True)
    cfg = dict(CFG, g2_layout={"kind": kind, "tp": tp})
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=1)
    files = {}
    for (name, shape, split, axis, group, per_rank), a in model:
        ranked = per_rank if kind == "tp" else split != "rep"
        if not ranked:
            files.setdefault(f"pytorch_model-{group:05d}-TP-common.safetensors", []).append((name, a))
            continue
        for r in range(tp):
            lo, hi = rank_range(shape[axis], split, tp, r, CFG["num_key_value_heads"])
            piece = a[lo:hi] if axis == 0 else a[:, lo:hi]
            files.setdefault(f"pytorch_model-{group:05d}-TP-{r:03d}.safetensors", []).append((name, piece))
    for f, ts in files.items():
        write_safetensors(os.path.join(out, f), ts)


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(7)
    model = [(spec, bf16(spec[1], rng)) for spec in layout(CFG)]
    for d in ("hf1", "hf3"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
        json.dump(CFG, open(os.path.join(out, d, "config.json"), "w"), indent=1)
    write_safetensors(os.path.join(out, "hf1", "model.safetensors"), [(s[0], a) for s, a in model])
    wm, total = {}, 0
    for i in range(3):
        fname = f"model-{i + 1:05d}-of-00003.safetensors"
        part = [(s[0], a) for s, a in model[i::3]]
        write_safetensors(os.path.join(out, "hf3", fname), part)
        for n, a in part:
            wm[n] = fname
            total += a.nbytes
    json.dump({"metadata": {"total_size": total}, "weight_map": wm},
              open(os.path.join(out, "hf3", "model.safetensors.index.json"), "w"), indent=2)
    write_tp(os.path.join(out, "tp2"), model, 2, "tp")
    write_tp(os.path.join(out, "rank4"), model, 4, "rank")


if __name__ == "__main__":
    main()

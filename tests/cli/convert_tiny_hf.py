#!/usr/bin/env python3
"""Write a tiny Grok-2-shaped HF safetensors set (model.safetensors + config.json +
tokenizer.tok.json) with the Python standard library only, as the g2convert CLI tests' source.
Tensor names/shapes follow configs/grok-2-tiny.json scaled down; values are finite bf16."""
import json, os, struct, sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
cfg = json.load(open(os.path.join(os.environ["G2_SOURCE_DIR"], "configs/grok-2-tiny.json")))
cfg.update(vocab_size=128, hidden_size=64, num_attention_heads=16, head_dim=4, num_key_value_heads=8,
           intermediate_size=64, moe_intermediate_size=32, num_hidden_layers=1)
cfg.pop("_comment", None)
V, H, I, M, KV, Q = 128, 64, 64, 32, 8 * 4, 16 * 4
names = [("model.embed_tokens.weight", [V, H]), ("lm_head.weight", [V, H]), ("model.norm.weight", [H])]
p = "model.layers.0."
names += [(p + "mlp.gate_proj.weight", [I, H]), (p + "mlp.down_proj.weight", [H, I]), (p + "mlp.up_proj.weight", [I, H])]
for e in range(8):
    pe = p + "block_sparse_moe.experts.%d." % e
    names += [(pe + "w1.weight", [M, H]), (pe + "w2.weight", [H, M]), (pe + "w3.weight", [M, H])]
names += [(p + "self_attn.k_proj.weight", [KV, H]), (p + "self_attn.o_proj.weight", [H, Q]),
          (p + "self_attn.q_proj.weight", [Q, H]), (p + "self_attn.v_proj.weight", [KV, H])]
names += [(p + n + ".weight", [H]) for n in ("pre_attn_norm", "post_attn_norm", "pre_moe_norm", "post_moe_norm")]
names += [(p + "block_sparse_moe.gate.weight", [8, H])]

# A 4096-value pool of varied finite bf16 values (xorshift), tiled with a per-tensor offset.
state, pool = 0x9E3779B9, []
for _ in range(4096):
    state ^= (state << 13) & 0xFFFFFFFF; state ^= state >> 17; state ^= (state << 5) & 0xFFFFFFFF
    mant = (state & 0xFFFF) / 65536.0
    val = (mant - 0.5) * 2.0 ** ((state >> 16) % 6 - 3)
    pool.append(struct.unpack("<I", struct.pack("<f", val))[0] >> 16)
raw = struct.pack("<4096H", *pool)

header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
for i, (n, shape) in enumerate(names):
    count = 1
    for d in shape:
        count *= d
    nbytes = count * 2
    start = (i * 97 * 2) % len(raw)
    data = (raw[start:] + raw * (nbytes // len(raw) + 2))[:nbytes]
    header[n] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + nbytes]}
    blobs.append(data)
    off += nbytes
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
tok = {"regular_tokens": [{"bytes": [65 + (i % 26)], "token": i} for i in range(100)],
       "special_tokens": [{"bytes": [0], "token": 100}], "word_split": "V1"}
json.dump(tok, open(os.path.join(out, "tokenizer.tok.json"), "w"))

#!/usr/bin/env python3
"""Write a Grok-2-shaped HF safetensors set of a chosen size with the standard library only
(values: a tiled pool of finite bf16 numbers). Used by bench/convert_bench.sh.
usage: convert_synth_hf.py OUT HIDDEN LAYERS VOCAB"""
import json, os, struct, sys

out, H, L, V = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(out, exist_ok=True)
hd, heads, kv = 128, H // 128, 8
I, M, E = 2 * H, H, 8
cfg = {"architectures": ["Grok1ForCausalLM"], "model_type": "grok-2", "vocab_size": V, "hidden_size": H,
       "intermediate_size": I, "moe_intermediate_size": M, "num_hidden_layers": L, "num_attention_heads": heads,
       "num_key_value_heads": kv, "head_dim": hd, "num_local_experts": E, "num_experts_per_tok": 2,
       "residual_moe": True, "rms_norm_eps": 1e-5, "max_position_embeddings": 8192, "rope_theta": 208533496,
       "rope_type": "original", "original_max_position_embeddings": 8192, "scaling_factor": 16.0,
       "attn_temperature_len": 1024, "attn_logit_softcapping": 30.0, "router_logit_softcapping": 30.0,
       "final_logit_softcapping": 50.0, "embedding_multiplier_scale": H ** 0.5, "output_multiplier_scale": 0.5,
       "hidden_act": "gelu", "tie_word_embeddings": False}
names = [("model.embed_tokens.weight", [V, H]), ("lm_head.weight", [V, H]), ("model.norm.weight", [H])]
for l in range(L):
    p = "model.layers.%d." % l
    names += [(p + "mlp.gate_proj.weight", [I, H]), (p + "mlp.down_proj.weight", [H, I]), (p + "mlp.up_proj.weight", [I, H])]
    for e in range(E):
        pe = p + "block_sparse_moe.experts.%d." % e
        names += [(pe + "w1.weight", [M, H]), (pe + "w2.weight", [H, M]), (pe + "w3.weight", [M, H])]
    names += [(p + "self_attn.k_proj.weight", [kv * hd, H]), (p + "self_attn.o_proj.weight", [H, heads * hd]),
              (p + "self_attn.q_proj.weight", [heads * hd, H]), (p + "self_attn.v_proj.weight", [kv * hd, H])]
    names += [(p + n + ".weight", [H]) for n in ("pre_attn_norm", "post_attn_norm", "pre_moe_norm", "post_moe_norm")]
    names += [(p + "block_sparse_moe.gate.weight", [E, H])]
state, pool = 0x2545F491, []
for _ in range(1 << 16):
    state ^= (state << 13) & 0xFFFFFFFF; state ^= state >> 17; state ^= (state << 5) & 0xFFFFFFFF
    val = ((state & 0xFFFF) / 65536.0 - 0.5) * 2.0 ** ((state >> 16) % 6 - 6)
    pool.append(struct.unpack("<I", struct.pack("<f", val))[0] >> 16)
raw = struct.pack("<%dH" % len(pool), *pool)
big = raw * 64  # 8 MiB
header, off = {"__metadata__": {"format": "pt"}}, 0
for n, shape in names:
    nb = 2
    for d in shape:
        nb *= d
    header[n] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + nb]}
    off += nb
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for i, (n, shape) in enumerate(names):
        nb = header[n]["data_offsets"][1] - header[n]["data_offsets"][0]
        start = (i * 4099 * 2) % len(raw)
        while nb > 0:
            chunk = big[start:start + min(nb, len(big) - start)]
            f.write(chunk)
            nb -= len(chunk)
            start = 0
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
print("%s: %.2f GiB" % (out, off / 2 ** 30))

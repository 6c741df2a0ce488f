#!/usr/bin/env python3
"""Independent NumPy forward pass for Grok-2 (HF / TP-release safetensors) and
Grok-1 (JAX pickle checkpoint), recording per-layer activations.

Written from docs/reference.md; not a port of the C++ code nor of any public
implementation. Comments cite where each formula lives in SGLang
(python/sglang/srt/models/grok.py unless noted) or in xai-org/grok-1 model.py.

Outputs (safetensors, numpy API), for every layer L:
  layers.L.attn_residual  [T, hidden] residual after the attention block
  layers.L.router_logits  [T, n_experts] f32 router logits as fed to the softmax
                          (Grok-2: AFTER the 30*tanh(x/30) router softcap)
  layers.L.experts        [T, top_k] int32 expert ids in top-k order
                          (descending prob, ties -> lower index)
  layers.L.residual       [T, hidden] residual after the FFN block
  logits                  [T, vocab] (Grok-2: after the final softcap)

Modes:
  --mode f32        (default) every op in float32, weights upcast from bf16
                    (Grok-1 int8 weights dequantized as bf16(int8*scale), see
                    --grok1-dequant).
  --mode jax-bf16   Grok-1 only: emulate the rounding points of the JAX
                    reference (xai-org/grok-1 model.py); see README.md.

Open questions are explicit flags (defaults follow SGLang, docs/reference.md §6):
  --attn-temp {after-softcap,before-softcap,off}
  --gelu {config,erf,tanh}
"""

import argparse
import glob
import json
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402

# --------------------------------------------------------------------------
# safetensors reading (own parser: BF16 needs ml_dtypes)
# --------------------------------------------------------------------------

_ST_DTYPES = {
    "F32": np.float32, "F16": np.float16, "BF16": rc.BF16, "F64": np.float64,
    "I8": np.int8, "U8": np.uint8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
    "BOOL": np.bool_,
}


def st_read(path):
    """Return {name: ndarray (memory-mapped)} for one safetensors file."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = _ST_DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: {name}: unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        out[name] = mm[base + b: base + e].view(dt).reshape(info["shape"])
    return out


_TP_RE = re.compile(r"-TP-(\d{3})\.safetensors$")


def tp_concat_axis(name):
    """Axis along which the Grok-2 TP release / SGLang splits a tensor ([out, in]).
    Experts: w1/w3 on rows, w2 on columns (docs/reference.md §5; grok.py load_weights via
    FusedMoE expert mapping w1=gate, w3=up, w2=down)."""
    if re.search(r"experts\.\d+\.w[13]\.weight$", name):
        return 0
    if re.search(r"experts\.\d+\.w2\.weight$", name):
        return 1
    if re.search(r"(q_proj|k_proj|v_proj|gate_proj|up_proj)\.weight$", name):
        return 0
    if re.search(r"(o_proj|down_proj)\.weight$", name):
        return 1
    if re.search(r"(embed_tokens|lm_head)\.weight$", name):
        return 0
    return None


def load_hf_tensors(ckpt):
    """Grok-2 weights as {name: f32 ndarray}. Accepts an index-described HF set,
    or the TP release layout (*-TP-common + *-TP-00R), or a bare folder of
    safetensors files."""
    idx = os.path.join(ckpt, "model.safetensors.index.json")
    files = []
    if os.path.exists(idx):
        with open(idx) as f:
            wm = json.load(f)["weight_map"]
        files = sorted(set(wm.values()))
        files = [os.path.join(ckpt, x) for x in files]
    else:
        files = sorted(glob.glob(os.path.join(ckpt, "*.safetensors")))
    if not files:
        raise SystemExit(f"no safetensors files in {ckpt}")
    full = {}
    shards = {}  # name -> {rank: array}
    for path in files:
        m = _TP_RE.search(path)
        tensors = st_read(path)
        for name, arr in tensors.items():
            if m:
                shards.setdefault(name, {})[int(m.group(1))] = arr
            else:
                if name in full:
                    raise SystemExit(f"{name} appears twice")
                full[name] = arr
    for name, parts in shards.items():
        if name in full:
            raise SystemExit(f"{name} is both common and rank-sharded")
        ranks = sorted(parts)
        if ranks != list(range(len(ranks))):
            raise SystemExit(f"{name}: rank files {ranks} are not 0..R-1")
        ax = tp_concat_axis(name)
        if ax is None:
            raise SystemExit(f"{name}: sharded but no known split axis")
        full[name] = np.concatenate([parts[r] for r in ranks], axis=ax)
    return {k: np.asarray(v).astype(np.float32) for k, v in full.items()}


# --------------------------------------------------------------------------
# model weights in one internal form: matrices [in, out] (y = x @ W)
# --------------------------------------------------------------------------

def grok2_weights(cfg, t):
    L = cfg["num_hidden_layers"]
    E = cfg["num_local_experts"]
    W = {
        "embed": t["model.embed_tokens.weight"],                     # [V, D]
        "final_norm": t["model.norm.weight"],
        # lm_head * output_multiplier_scale folded in f32 at load
        # (grok.py Grok1ForCausalLM.load_weights: load_weight_wrapper "lm_head").
        "lm_head": (t["lm_head.weight"] * np.float32(cfg["output_multiplier_scale"])).T,
        "layers": [],
    }
    for i in range(L):
        p = f"model.layers.{i}."
        lw = {
            "norm_pre_attn": t[p + "pre_attn_norm.weight"],
            "norm_post_attn": t[p + "post_attn_norm.weight"],
            "norm_pre_moe": t[p + "pre_moe_norm.weight"],
            "norm_post_moe": t[p + "post_moe_norm.weight"],
            "wq": t[p + "self_attn.q_proj.weight"].T,
            "wk": t[p + "self_attn.k_proj.weight"].T,
            "wv": t[p + "self_attn.v_proj.weight"].T,
            "wo": t[p + "self_attn.o_proj.weight"].T,
            "router": t[p + "block_sparse_moe.gate.weight"].T,        # [D, E]
            "e_gate": np.stack([t[p + f"block_sparse_moe.experts.{e}.w1.weight"].T for e in range(E)]),
            "e_up": np.stack([t[p + f"block_sparse_moe.experts.{e}.w3.weight"].T for e in range(E)]),
            "e_down": np.stack([t[p + f"block_sparse_moe.experts.{e}.w2.weight"].T for e in range(E)]),
        }
        if cfg.get("residual_moe"):
            lw["m_gate"] = t[p + "mlp.gate_proj.weight"].T
            lw["m_up"] = t[p + "mlp.up_proj.weight"].T
            lw["m_down"] = t[p + "mlp.down_proj.weight"].T
        W["layers"].append(lw)
    return W


def grok1_weights(cfg, ckpt, dequant, jax_bf16=False):
    p = rc.load_grok1_ckpt(ckpt, cfg)

    def g(name):
        return rc.dequant_grok1(p[name], dequant)

    emb = g("language_model/in_out_embed/embeddings")
    W = {
        "embed": emb,
        "final_norm": g("language_model/rms_norm/scale"),
        "lm_head": None,  # tied: logits = x @ embed.T * output_multiplier_scale
        "layers": [],
    }
    for i in range(cfg["num_hidden_layers"]):
        b = f"transformer/decoder_layer_{i}/"
        W["layers"].append({
            "norm_pre_attn": g(b + "rms_norm/scale"),
            "norm_post_attn": g(b + "rms_norm_1/scale"),
            "norm_pre_moe": g(b + "rms_norm_2/scale"),
            "norm_post_moe": g(b + "rms_norm_3/scale"),
            "wq": g(b + "multi_head_attention/query/w"),
            "wk": g(b + "multi_head_attention/key/w"),
            "wv": g(b + "multi_head_attention/value/w"),
            "wo": g(b + "multi_head_attention/linear/w"),
            "router": g(b + "router/w"),
            "e_gate": g(b + "moe/linear/w"),
            "e_up": g(b + "moe/linear_v/w"),
            # jax-bf16: in moe_slow_matmul2 the bf16 "weight * scales" feeds an f32
            # einsum and XLA CPU (jaxlib 0.4.25) uses the exact f32 int8*scale product
            # there (measured: f32 dequant matches to 8e-7 rel, bf16 dequant to 2e-3).
            "e_down": rc.dequant_grok1(p[b + "moe/linear_1/w"], "f32" if jax_bf16 else dequant),
        })
    return W


# --------------------------------------------------------------------------
# numerics
# --------------------------------------------------------------------------

class Num:
    """Rounding policy. f32: identity everywhere. jax-bf16: round where the
    Grok-1 JAX reference holds a bf16 value (see README.md for the list)."""

    def __init__(self, jax_bf16=False):
        self.j = jax_bf16

    def r(self, x):
        return rc.bf16_round(x) if self.j else np.asarray(x, dtype=np.float32)

    def scalar(self, s):
        # A Python float multiplying a bf16 array in JAX is weakly typed: it
        # becomes bf16 first (78.3836... -> 78.5, 0.57735... -> 0.578125).
        return float(rc.bf16_round(np.float32(s))) if self.j else float(s)


def rms_norm(x, w, eps, num):
    # Grok-1 model.py RMSNorm: f32, x * rsqrt(mean(x^2) + eps) * scale, cast to
    # fprop dtype. SGLang: sglang/srt/layers/layernorm.py RMSNorm (weight * x/rms,
    # no 1+w), used fused in grok.py via fused_rmsnorm / fused_dual_residual_rmsnorm
    # (sglang/srt/layers/elementwise.py).
    x = x.astype(np.float32)
    ms = np.mean(x * x, axis=-1, keepdims=True)
    return num.r(w * (x / np.sqrt(ms + np.float32(eps))))


def gelu(x, kind):
    x = x.astype(np.float32)
    if kind == "tanh":
        # jax.nn.gelu default (approximate=True), used by Grok-1 model.py DenseBlock.
        c = np.float32(math.sqrt(2.0 / math.pi))
        return x * np.float32(0.5) * (np.float32(1) + np.tanh(c * (x + np.float32(0.044715) * x ** 3)))
    # erf GELU: sglang/srt/layers/elementwise.py gelu_and_mul_triton
    # (0.5 * (1 + erf(x / sqrt 2)) * x) for the dense MLP; FusedMoE activation "gelu".
    from math import erf
    verf = np.vectorize(erf, otypes=[np.float64])
    return (x * 0.5 * (1.0 + verf(x.astype(np.float64) / math.sqrt(2.0)))).astype(np.float32)


def rope(x, pos, base, num):
    """Half-split (neox) rotary over the whole head: out = x*cos + rotate_half(x)*sin,
    rotate_half(x) = concat(-x2, x1), inv_freq = base^(-arange(0,d,2)/d) in f32.
    Grok-1: model.py RotaryEmbedding (base 10000, f32 math, cast to bf16).
    Grok-2: grok.py ScalingRotaryEmbedding with extra_method "original" =
    inv_freq_extrapolation = 1/base^(i/d) (no YaRN mix, mscale not applied: the
    cos/sin mscale lines are commented out in _compute_cos_sin_cache); base=int(rope_theta);
    is_neox_style=True."""
    d = x.shape[-1]
    exps = np.arange(0, d, 2, dtype=np.float32)
    inv_freq = (1.0 / (np.float32(base) ** (exps / np.float32(d)))).astype(np.float32)
    phase = np.asarray(pos, dtype=np.float32)[:, None] * inv_freq[None, :]  # [T, d/2]
    phase = np.concatenate([phase, phase], axis=-1)[:, None, :]             # [T, 1, d]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    rot = np.concatenate([-x2, x1], axis=-1)
    return num.r(x * np.cos(phase) + rot * np.sin(phase))


def attention(x, lw, cfg, num, args, grok1):
    T = x.shape[0]
    H, KV, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    q = num.r(x @ lw["wq"]).reshape(T, H, hd)
    k = num.r(x @ lw["wk"]).reshape(T, KV, hd)
    v = num.r(x @ lw["wv"]).reshape(T, KV, hd)
    pos = np.arange(T)
    base = 10000 if grok1 else int(cfg["rope_theta"])
    q = rope(q, pos, base, num)
    k = rope(k, pos, base, num)
    # GQA: q head h uses kv head h // (H/KV) (Grok-1 model.py reshape to
    # [kv_h, h//kv_h]; SGLang kv_group_num = q_heads // kv_heads).
    g = H // KV
    kk = np.repeat(k, g, axis=1)
    vv = np.repeat(v, g, axis=1)
    s = num.r(np.einsum("thd,shd->hts", q, kk))  # bf16 einsum output in the JAX ref
    if grok1:
        s = s * np.float32(cfg["attn_output_multiplier"])  # model.py attn_output_multiplier
    else:
        # RadixAttention scaling = head_dim**-0.5 (grok.py Grok1Attention.scaling)
        s = s * np.float32(hd ** -0.5)
    cap = float(cfg.get("attn_logit_softcapping", 30.0) or 0.0)
    temp = None
    Ltemp = int(cfg.get("attn_temperature_len", 0) or 0)
    if not grok1 and Ltemp > 0 and args.attn_temp != "off":
        # sglang/srt/layers/attention/triton_ops/decode_attention.py & extend_attention.py:
        # xai_temperature_reg = log2(p)/log2(L) where p (0-based absolute query
        # position) > L, else 1; applied as qk *= reg AFTER the logit_cap tanh.
        p = np.arange(T, dtype=np.float32)
        with np.errstate(divide="ignore"):
            temp = np.where(p > Ltemp, np.log2(np.maximum(p, 1)) / np.float32(math.log2(Ltemp)), 1.0)
        temp = temp.astype(np.float32)[None, :, None]
    if temp is not None and args.attn_temp == "before-softcap":
        s = s * temp  # the sglang-jax kernel reading (MIGRATION.md section 17, V6); selectable only
    if cap > 0:
        # Grok-1: model.py 30*tanh(x/30). Grok-2: triton kernels logit_cap*tanh(qk/logit_cap).
        s = np.float32(cap) * np.tanh(s / np.float32(cap))
    if temp is not None and args.attn_temp == "after-softcap":
        s = s * temp
    mask = np.tril(np.ones((T, T), dtype=bool))
    s = np.where(mask[None], s, np.float32(-1e30))
    s = s - s.max(axis=-1, keepdims=True)
    pr = np.exp(s)
    pr = num.r(pr / pr.sum(axis=-1, keepdims=True))  # probs cast to bf16 in the JAX ref
    o = num.r(np.einsum("hts,shd->thd", pr, vv)).reshape(T, H * hd)
    return num.r(o @ lw["wo"])


def moe(x, lw, cfg, num, args, grok1, gelu_kind):
    E, K = cfg["num_local_experts"], cfg["num_experts_per_tok"]
    # Router in f32 (Grok-1 model.py Router: inputs cast to f32, f32 weight;
    # SGLang Grok1MoE.gate is ReplicatedLinear with params_dtype float32).
    logits = x.astype(np.float32) @ lw["router"].astype(np.float32)
    rcap = float(cfg.get("router_logit_softcapping", 0) or 0)
    if rcap > 0:
        # grok.py Grok1MoE: router_logit_softcapping 30 -> fused_moe_router_shim
        # (sglang/srt/layers/moe/router.py): cap*tanh(logits/cap) before softmax.
        logits = np.float32(rcap) * np.tanh(logits / np.float32(rcap))
    z = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(z)
    probs = probs / probs.sum(axis=-1, keepdims=True)
    # top-k, descending, ties -> lower index (jax.lax.top_k; stable sort on -p).
    idx = np.argsort(-probs, axis=-1, kind="stable")[:, :K].astype(np.int32)
    gates = np.take_along_axis(probs, idx, axis=-1)  # raw softmax probs, NOT renormalized
    # (grok.py TopK(renormalize=False); Grok-1 model.py expert_gate from top_k(probs)).
    T, D = x.shape
    out = np.zeros((T, D), dtype=np.float32)
    for t in range(T):
        for j in range(K):
            e = idx[t, j]
            # JAX ref moe_slow_matmul1: bf16 x bf16 einsum -> bf16 (then promoted to
            # f32 by the f32 one_hot einsum); gelu, product and down-proj run in f32.
            gt = num.r(x[t] @ lw["e_gate"][e])
            up = num.r(x[t] @ lw["e_up"][e])
            h = gelu(gt, gelu_kind) * up
            y = h @ lw["e_down"][e]
            out[t] += num.r(gates[t, j]) * y  # expert_gate.astype(bf16) * out, summed in f32
    out = num.r(out)
    if not grok1 and cfg.get("residual_moe"):
        # grok.py Grok1MLP: gate_up_proj, gelu_and_mul_triton (erf GELU; the gelu
        # result is cast to the activation dtype before the multiply), down_proj.
        m = (gelu(x @ lw["m_gate"], gelu_kind) * (x @ lw["m_up"])) @ lw["m_down"]
        # grok.py Grok1DecoderLayer.moe_with_rmoe: (mlp + moe) / 1.4142135623730951
        out = (m + out) / np.float32(1.4142135623730951)
    return logits, idx, out


def forward(cfg, W, tokens, args):
    grok1 = rc.is_grok1(cfg)
    num = Num(jax_bf16=(args.mode == "jax-bf16"))
    eps = cfg.get("rms_norm_eps", 1e-5)
    gelu_kind = args.gelu
    if gelu_kind == "config":
        gelu_kind = "tanh" if cfg.get("hidden_act", "gelu") in ("gelu_pytorch_tanh", "gelu_new", "gelu_tanh") else "erf"
    tok = np.asarray(tokens)
    # Embedding * embedding_multiplier_scale: Grok-1 model.py (embeddings cast to
    # bf16, then *= multiplier); grok.py Grok1Model.forward hidden_states.mul_(...).
    h = num.r(num.r(W["embed"][tok]) * np.float32(num.scalar(cfg["embedding_multiplier_scale"])))
    acts = {}
    for i, lw in enumerate(W["layers"]):
        # Sandwich norms: h += post_attn_norm(attn(pre_attn_norm(h)));
        # h += post_moe_norm(ffn(pre_moe_norm(h))). Grok-1 model.py DecoderLayer
        # (rms_norm, rms_norm_1, rms_norm_2, rms_norm_3); grok.py Grok1DecoderLayer.forward.
        a = attention(rms_norm(h, lw["norm_pre_attn"], eps, num), lw, cfg, num, args, grok1)
        h = num.r(h + rms_norm(a, lw["norm_post_attn"], eps, num))
        acts[f"layers.{i}.attn_residual"] = h
        logits, idx, f = moe(rms_norm(h, lw["norm_pre_moe"], eps, num), lw, cfg, num, args, grok1, gelu_kind)
        h = num.r(h + rms_norm(f, lw["norm_post_moe"], eps, num))
        acts[f"layers.{i}.router_logits"] = logits.astype(np.float32)
        acts[f"layers.{i}.experts"] = idx
        acts[f"layers.{i}.residual"] = h
    x = rms_norm(h, W["final_norm"], eps, num)
    if W["lm_head"] is None:
        # Grok-1 tied decode: x @ embed.T (embed cast to bf16), * output_multiplier_scale.
        Et = num.r(W["embed"]).T
        if num.j:
            # The embedding is sharded on the hidden axis over the 8-way model axis
            # (LM_PARTITION_RULES P(None, ("data","model"))): XLA computes 8
            # partial dots over contiguous hidden blocks, each rounded to bf16,
            # and all-reduces them in f32 before the final bf16 rounding
            # (measured bit-exact on the tiny model).
            G = args.jax_shards
            D = x.shape[-1]
            lg = num.r(sum(num.r(x[:, i * D // G:(i + 1) * D // G] @ Et[i * D // G:(i + 1) * D // G])
                           for i in range(G)))
        else:
            lg = x @ Et
        lg = num.r(lg * np.float32(num.scalar(cfg["output_multiplier_scale"])))
    else:
        lg = x @ W["lm_head"]
    fcap = float(cfg.get("final_logit_softcapping", 0) or 0)
    if fcap > 0:
        # sglang/srt/layers/logits_processor.py: final_logit_softcapping -> cap*tanh(x/cap)
        lg = np.float32(fcap) * np.tanh(lg / np.float32(fcap))
    acts["logits"] = lg.astype(np.float32)
    return acts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", choices=["f32", "jax-bf16"], default="f32")
    ap.add_argument("--attn-temp", choices=["after-softcap", "before-softcap", "off"], default="after-softcap")
    ap.add_argument("--gelu", choices=["config", "erf", "tanh"], default="config")
    ap.add_argument("--jax-shards", type=int, default=8,
                    help="jax-bf16: model-axis size of the emulated JAX run (tied decode partial sums)")
    ap.add_argument("--grok1-dequant", choices=["bf16", "f32"], default="bf16",
                    help="Grok-1: int8*scale product rounded to bf16 (as the JAX ref) or kept in f32")
    args = ap.parse_args()

    cfg = rc.load_config(args.config)
    tokens = rc.parse_tokens(args.tokens)
    if min(tokens) < 0 or max(tokens) >= cfg["vocab_size"]:
        sys.exit("token out of range")
    grok1 = rc.is_grok1(cfg)
    if args.mode == "jax-bf16" and not grok1:
        sys.exit("--mode jax-bf16 emulates the Grok-1 JAX reference; use a grok-1 config")
    if not grok1 and cfg.get("rope_type", "original") not in ("original", "default"):
        sys.exit(f"rope_type {cfg.get('rope_type')} not implemented (only 'original' = plain RoPE)")
    if grok1:
        W = grok1_weights(cfg, args.ckpt, args.grok1_dequant, jax_bf16=(args.mode == "jax-bf16"))
    else:
        W = grok2_weights(cfg, load_hf_tensors(args.ckpt))
    acts = forward(cfg, W, tokens, args)
    meta = {
        "tokens": ",".join(str(t) for t in tokens),
        "config": cfg["_name"],
        "source": "g2kit tools/reference/grok2_numpy_ref.py (NumPy, from docs/reference.md)",
        "versions": f"numpy={np.__version__},ml_dtypes={rc.ml_dtypes.__version__}",
        "mode": args.mode,
        "attn_temp": args.attn_temp if not grok1 else "n/a",
        "gelu": args.gelu,
        "router_logits": "after router softcap" if cfg.get("router_logit_softcapping") else "raw (no softcap)",
    }
    if grok1:
        meta["grok1_dequant"] = args.grok1_dequant
    rc.write_activations(args.out, acts, meta)
    print(f"wrote {len(acts)} tensors to {args.out}; logits[0,:4]={acts['logits'][0, :4]}")


if __name__ == "__main__":
    main()

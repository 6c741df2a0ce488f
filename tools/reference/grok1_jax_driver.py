#!/usr/bin/env python3
"""Run the PUBLIC xai-org/grok-1 JAX reference on a (tiny) Grok-1 checkpoint and
record per-layer activations to a safetensors file.

The reference's own model.py / checkpoint.py / runners.py are imported from
--ref-checkout (a scratch checkout outside this repository; nothing of it is
copied here). Its ModelRunner restores the checkpoint through checkpoint.py
(ckpt-0/tensorNNNNN_000 pickles, QuantizedWeight8bit int8 + bf16 scales) on a
(1, 8) mesh over 8 XLA host devices, so the blocked scales (docs/reference.md §1)
broadcast per shard exactly as on the original 8-GPU setup.

Activations are captured with haiku method interception (no change to the
reference code):
  layers.L.attn_residual  input of decoder_layer_L/rms_norm_2 (= residual after the
                          attention block; the reference passes exactly h to it)
  layers.L.router_logits  2nd output of decoder_layer_L/router.compute_routing_prob (f32)
  layers.L.experts        jax.lax.top_k(routing_probs, k) indices: the same op the
                          reference's MoELayer runs on the same probs (int32)
  layers.L.residual       decoder_layer_L output embeddings
  logits                  LanguageModelOutput.logits
All floats are stored as float32 (the reference computes them in bf16 except the
router, which is f32).

Run with the venv from tools/reference/setup-ref-env.sh:
  venv-ref/bin/python tools/reference/grok1_jax_driver.py \
     --ref-checkout build/grok-1 --ckpt DIR --config configs/grok-1-tiny.json \
     --tokens 1,2,3 --out acts.safetensors
"""

import argparse
import os
import re
import subprocess
import sys
import types

# XLA flags must be set before jax is imported:
#  - 8 host devices for the (1, 8) mesh;
#  - unless --excess-precision is given, strict bf16: every bf16 value model.py
#    produces is really rounded to bf16. jaxlib 0.4.25's CPU compiler upcasts
#    bf16 elementwise ops to f32 and then its simplify-fp-conversions pass also
#    deletes the model's own f32->bf16->f32 round trips (e.g. the embedding
#    .astype(bf16) before "* 78.5"), regardless of --xla_allow_excess_precision;
#    results then depend on fusion decisions (we saw logits change when extra
#    outputs were requested). Disabling that pass restores per-op rounding.
_flags = ["--xla_force_host_platform_device_count=8"]
if "--excess-precision" not in sys.argv:
    _flags += ["--xla_allow_excess_precision=false",
               "--xla_disable_hlo_passes=simplify-fp-conversions"]
for _flag in _flags:
    if _flag.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refcommon as rc  # noqa: E402


def ref_commit(checkout: str, override: str) -> str:
    if override:
        return override
    f = os.path.join(checkout, ".g2kit-commit")
    if os.path.exists(f):
        return open(f).read().strip()
    try:
        return subprocess.check_output(["git", "-C", checkout, "rev-parse", "HEAD"],
                                       stderr=subprocess.DEVNULL, text=True).strip()
    except Exception:
        return "unknown"


def install_shims():
    """Shims for the reference's imports that this driver does not use."""
    # runners.py imports sentencepiece only for InferenceRunner's tokenizer.
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        sys.modules["sentencepiece"] = types.ModuleType("sentencepiece")


def check_hardcoded(cfg):
    """model.py hard-codes some constants; refuse configs that differ."""
    problems = []
    if float(cfg.get("rope_theta", 10000)) != 10000.0:
        problems.append("rope_theta must be 10000 (RotaryEmbedding base_exponent=int(1e4))")
    if float(cfg.get("attn_logit_softcapping", 30.0)) != 30.0:
        problems.append("attn_logit_softcapping must be 30 (max_attn_val = 30.0)")
    if abs(float(cfg.get("rms_norm_eps", 1e-5)) - 1e-5) > 1e-12:
        problems.append("rms_norm_eps must be 1e-5 (RMSNorm default)")
    if cfg["num_local_experts"] != 8:
        problems.append("num_local_experts must be 8 (one_hot(index, 8) in MoELayer)")
    if cfg.get("router_logit_softcapping", 0) or cfg.get("final_logit_softcapping", 0):
        problems.append("router/final softcaps do not exist in the Grok-1 reference")
    if cfg.get("residual_moe"):
        problems.append("residual_moe does not exist in the Grok-1 reference")
    if cfg.get("hidden_act", "gelu_pytorch_tanh") != "gelu_pytorch_tanh":
        problems.append("the reference uses jax.nn.gelu (tanh approximation)")
    if problems:
        sys.exit("config does not match the Grok-1 reference: " + "; ".join(problems))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref-checkout", required=True, help="directory with xai-org/grok-1 model.py etc.")
    ap.add_argument("--ckpt", required=True, help="checkpoint dir containing ckpt-0/")
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokens", required=True, help="comma-separated token ids (> 0; 0 is padding)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--ref-commit", default="", help="commit id to record (default: CHECKOUT/.g2kit-commit or git)")
    ap.add_argument("--mesh", default="1,8", help="local mesh (data, model); default 1,8")
    ap.add_argument("--excess-precision", action="store_true",
                    help="keep XLA's CPU defaults (bf16 round trips elided inside fusions: graph-dependent results)")
    ap.add_argument("--extra", action="store_true",
                    help="also record debug.<module path>.<method>.{in,out} for every intercepted "
                         "module call that takes/returns a single array (for locating rounding points)")
    a = ap.parse_args()

    cfg = rc.load_config(a.config)
    if not rc.is_grok1(cfg):
        sys.exit("grok1_jax_driver.py needs a grok-1 config")
    check_hardcoded(cfg)
    tokens = rc.parse_tokens(a.tokens)
    if min(tokens) <= cfg.get("pad_token_id", 0) or max(tokens) >= cfg["vocab_size"]:
        sys.exit("tokens must be in (pad_token_id, vocab_size)")
    mesh_cfg = tuple(int(x) for x in a.mesh.split(","))

    checkout = os.path.abspath(a.ref_checkout)
    sys.path.insert(0, checkout)
    install_shims()

    import jax
    import haiku as hk
    import model as ref_model  # the reference's model.py
    import runners as ref_runners  # the reference's runners.py (imports checkpoint.py)

    if jax.device_count() < mesh_cfg[0] * mesh_cfg[1]:
        sys.exit(f"need {mesh_cfg[0] * mesh_cfg[1]} devices, have {jax.device_count()}; "
                 "XLA_FLAGS must carry --xla_force_host_platform_device_count=8")

    wf = rc.grok1_widening_factor(cfg)
    lm_config = ref_model.LanguageModelConfig(
        vocab_size=cfg["vocab_size"],
        pad_token=cfg.get("pad_token_id", 0),
        eos_token=cfg.get("eos_token_id", 2),
        sequence_len=cfg["max_position_embeddings"],
        embedding_init_scale=1.0,
        output_multiplier_scale=cfg["output_multiplier_scale"],
        embedding_multiplier_scale=cfg["embedding_multiplier_scale"],
        model=ref_model.TransformerConfig(
            emb_size=cfg["hidden_size"],
            widening_factor=wf,
            key_size=cfg["head_dim"],
            num_q_heads=cfg["num_attention_heads"],
            num_kv_heads=cfg["num_key_value_heads"],
            num_layers=cfg["num_hidden_layers"],
            attn_output_multiplier=cfg["attn_output_multiplier"],
            shard_activations=True,
            num_experts=cfg["num_local_experts"],
            num_selected_experts=cfg["num_experts_per_tok"],
            data_axis="data",
            model_axis="model",
        ),
    )

    T = len(tokens)
    runner = ref_runners.ModelRunner(
        model=lm_config,
        bs_per_device=0.125,
        checkpoint_path=os.path.abspath(a.ckpt),
    )
    runner.transform_forward = True
    dummy = dict(inputs=np.zeros((1, T), dtype=np.int32), targets=np.zeros((1, T), dtype=np.int32))
    runner.initialize(dummy, local_mesh_config=mesh_cfg, between_hosts_config=(1, 1))
    # Restores through the reference's checkpoint.py (load_tensors/restore).
    params = runner.load_or_init(dummy)

    n_layers = cfg["num_hidden_layers"]
    top_k = cfg["num_experts_per_tok"]
    layer_re = re.compile(r"decoder_layer_(\d+)(/|$)")

    def forward(tok):
        caps = {}

        def interceptor(next_f, args, kwargs, context):
            out = next_f(*args, **kwargs)
            name = context.module.module_name
            meth = context.method_name
            if a.extra:
                key = f"debug.{name}.{meth}"
                while key + ".out" in caps:
                    key += "+"
                if args and hasattr(args[0], "shape") and hasattr(args[0], "dtype"):
                    caps[key + ".in"] = args[0]
                if hasattr(out, "shape") and hasattr(out, "dtype"):
                    caps[key + ".out"] = out
                elif hasattr(out, "embeddings"):
                    caps[key + ".out"] = out.embeddings
            m = layer_re.search(name)
            if m is None:
                return out
            L = int(m.group(1))
            if meth == "__call__" and name.endswith(f"decoder_layer_{L}"):
                caps[f"layers.{L}.residual"] = out.embeddings
            elif meth == "__call__" and name.endswith(f"decoder_layer_{L}/rms_norm_2"):
                caps[f"layers.{L}.attn_residual"] = args[0]
            elif meth == "compute_routing_prob" and name.endswith(f"decoder_layer_{L}/router"):
                probs, logits, _ = out
                caps[f"layers.{L}.router_logits"] = logits
                caps[f"layers.{L}.experts"] = jax.lax.top_k(probs, top_k)[1]
            return out

        with hk.intercept_methods(interceptor):
            lm_out = lm_config.make(mesh=runner.mesh)(tok)
        caps["logits"] = lm_out.logits
        return caps

    fwd = hk.transform(forward)
    tok = np.asarray([tokens], dtype=np.int32)
    with runner.mesh:
        caps = jax.jit(fwd.apply)(params, jax.random.PRNGKey(0), tok)
    caps = jax.device_get(caps)

    acts = {}
    for k, v in caps.items():
        v = np.asarray(v)
        if v.ndim >= 2 and v.shape[0] == 1:
            v = v[0]  # drop batch
        if k.endswith(".experts"):
            acts[k] = v.astype(np.int32)
        else:
            acts[k] = v.astype(np.float32)
    expected = ["logits"] + [f"layers.{L}.{n}" for L in range(n_layers)
                             for n in ("attn_residual", "router_logits", "experts", "residual")]
    missing = [k for k in expected if k not in acts]
    if missing:
        sys.exit(f"failed to capture: {missing}")

    import ml_dtypes
    versions = f"jax={jax.__version__},jaxlib={jax.lib.__version__},haiku={hk.__version__}," \
               f"numpy={np.__version__},ml_dtypes={ml_dtypes.__version__}"
    meta = {
        "tokens": ",".join(str(t) for t in tokens),
        "config": cfg["_name"],
        "source": f"xai-org/grok-1@{ref_commit(checkout, a.ref_commit)}",
        "versions": versions,
        "driver": "tools/reference/grok1_jax_driver.py",
        "precision": ("JAX model.py bf16, XLA CPU defaults (excess precision)" if a.excess_precision
                      else "JAX model.py bf16, strict per-op bf16 rounding") + "; stored as f32",
        "mesh": a.mesh,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    keep = expected + (sorted(k for k in acts if k.startswith("debug.")) if a.extra else [])
    rc.write_activations(a.out, {k: acts[k] for k in keep}, meta)
    print(f"wrote {len(expected)} tensors to {a.out}; logits[0,:4]={acts['logits'][0, :4]}")


if __name__ == "__main__":
    main()

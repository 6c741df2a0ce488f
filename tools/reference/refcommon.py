"""Shared helpers for the g2kit Python reference drivers (tools/reference).

Only numpy, ml_dtypes and safetensors are needed here. Nothing in this file is
taken from a public reference implementation; formats follow docs/reference.md.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import sys
from dataclasses import dataclass
from typing import Any, Dict, List

import ml_dtypes
import numpy as np

BF16 = ml_dtypes.bfloat16


# --------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------

def load_config(path: str) -> Dict[str, Any]:
    with open(path) as f:
        cfg = json.load(f)
    cfg["_path"] = path
    cfg["_name"] = os.path.basename(path)
    return cfg


def is_grok1(cfg: Dict[str, Any]) -> bool:
    return cfg.get("model_type") == "grok-1"


def jax_ffn_size(emb: int, widening_factor: float) -> int:
    """The Grok-1 JAX reference's ffn_size(): int(wf*emb)*2//3, rounded up to x8."""
    f = int(widening_factor * emb) * 2 // 3
    return f + (8 - f) % 8


def grok1_widening_factor(cfg: Dict[str, Any]) -> float:
    """Widening factor that makes the JAX reference's ffn_size() equal
    moe_intermediate_size (1.0 for grok-1-tiny, 8 for Grok-1)."""
    emb = cfg["hidden_size"]
    ffn = cfg["moe_intermediate_size"]
    wf = ffn * 3 / (2 * emb)
    if wf == int(wf):
        wf = int(wf)
    if jax_ffn_size(emb, wf) != ffn:
        raise ValueError(f"no widening factor gives ffn {ffn} for emb {emb}")
    return wf


def parse_tokens(s: str) -> List[int]:
    toks = [int(t) for t in s.replace(" ", "").split(",") if t != ""]
    if not toks:
        raise ValueError("empty --tokens")
    return toks


# --------------------------------------------------------------------------
# bf16 helpers
# --------------------------------------------------------------------------

def bf16_round(x: np.ndarray) -> np.ndarray:
    """Round f32 to bf16 (RNE, ml_dtypes) and return it as f32."""
    return np.asarray(x, dtype=np.float32).astype(BF16).astype(np.float32)


# --------------------------------------------------------------------------
# Grok-1 JAX checkpoint (ckpt-0/tensorNNNNN_000 pickles)
# --------------------------------------------------------------------------

@dataclass
class QuantizedWeight8bit:
    """Stand-in for the reference's dataclass of the same name: the pickles
    name it as __main__.QuantizedWeight8bit."""
    weight: Any
    scales: Any

    @property
    def shape(self):
        return self.weight.shape


def inject_qw8_into_main() -> None:
    main = sys.modules["__main__"]
    if not hasattr(main, "QuantizedWeight8bit"):
        main.QuantizedWeight8bit = QuantizedWeight8bit


class _RestrictedUnpickler(pickle.Unpickler):
    """Allow-list unpickler: numpy arrays, ml_dtypes scalars types and the
    QuantizedWeight8bit record, nothing else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("ml_dtypes", "bfloat16"),
        ("ml_dtypes._ml_dtypes_ext", "bfloat16"),
        ("__main__", "QuantizedWeight8bit"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        if module == "__main__":
            return QuantizedWeight8bit
        if module.startswith("ml_dtypes"):
            return BF16
        if name == "_reconstruct":
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def read_grok1_pickle(path: str) -> Any:
    with open(path, "rb") as f:
        return _RestrictedUnpickler(f).load()


def grok1_param_order(cfg: Dict[str, Any]) -> List[str]:
    """Parameter paths ('module/param') in the order JAX flattens the haiku
    params dict (sorted keys at every level) == checkpoint file order."""
    mods = {
        "language_model/in_out_embed": ["embeddings"],
        "language_model/rms_norm": ["scale"],
    }
    for L in range(cfg["num_hidden_layers"]):
        p = f"transformer/decoder_layer_{L}"
        for m in ["moe/linear", "moe/linear_1", "moe/linear_v",
                  "multi_head_attention/key", "multi_head_attention/linear",
                  "multi_head_attention/query", "multi_head_attention/value",
                  "router"]:
            mods[f"{p}/{m}"] = ["w"]
        for n in ["rms_norm", "rms_norm_1", "rms_norm_2", "rms_norm_3"]:
            mods[f"{p}/{n}"] = ["scale"]
    out = []
    for m in sorted(mods):
        for n in sorted(mods[m]):
            out.append(f"{m}/{n}")
    return out


def dequant_grok1(obj: Any, mode: str = "bf16") -> np.ndarray:
    """int8 * bf16 scales -> f32. mode 'bf16' rounds the product to bf16 as
    the JAX reference does (weight.astype(bf16) * scales, in bf16); 'f32'
    keeps the exact f32 product. Scales broadcast per output channel, or in
    G contiguous blocks along the contracting axis when scales.shape[-2] > 1
    (docs/reference.md §1)."""
    if not isinstance(obj, QuantizedWeight8bit):
        return np.asarray(obj, dtype=np.float32)
    w = np.asarray(obj.weight)
    s = np.asarray(obj.scales).astype(np.float32)
    K = w.shape[-2]
    G = s.shape[-2]
    if K % G:
        raise ValueError(f"contracting dim {K} not divisible by {G} scale blocks")
    s = np.repeat(s, K // G, axis=-2)
    prod = w.astype(np.float32) * s
    if mode == "bf16":
        prod = bf16_round(prod)
    return prod


def load_grok1_ckpt(ckpt_dir: str, cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Returns {param path: ndarray | QuantizedWeight8bit}."""
    inject_qw8_into_main()
    d = os.path.join(ckpt_dir, "ckpt-0")
    if not os.path.isdir(d):
        d = ckpt_dir
    order = grok1_param_order(cfg)
    out = {}
    for i, name in enumerate(order):
        out[name] = read_grok1_pickle(os.path.join(d, f"tensor{i:05d}_000"))
    return out


# --------------------------------------------------------------------------
# activations file
# --------------------------------------------------------------------------

def write_activations(path: str, acts: Dict[str, np.ndarray], metadata: Dict[str, str]) -> None:
    from safetensors.numpy import save_file
    clean = {}
    for k, v in acts.items():
        v = np.ascontiguousarray(v)
        if v.dtype not in (np.float32, np.int32):
            v = v.astype(np.float32)
        clean[k] = v
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(clean, path, metadata={k: str(v) for k, v in metadata.items()})


def read_activations(path: str):
    from safetensors.numpy import load_file
    from safetensors import safe_open
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    return load_file(path), meta

#!/usr/bin/env python3
"""The torch peer of bench/run.sh: what users write today with `safetensors` + `torch` for the
two conversions g2convert is timed on at the real geometry. Not part of g2kit.

  reshard SRC_TP8_DIR OUT_DIR NEW_TP   release-style (`tp` layout) TP8 -> NEW_TP: load_file of
      each pair (group) of rank files, torch.cat of the expert slices on their split axis
      (w2 on its input axis, w1/w3 on the output), save_file per new rank; common files
      loaded and saved.
  fp8 SRC_DIR OUT_DIR BLOCK            BF16 -> FP8 e4m3 with BLOCK x BLOCK scales, file by
      file: every 2-D linear weight (not the embedding, lm_head or router) becomes
      weight.to(float8_e4m3fn) of weight / scale with scale = amax / 448 per block (1 for an
      all-zero block), stored as `<name>_scale_inv` [ceil(N/B), ceil(K/B)] f32 next to it, the
      way DeepSeek-style block-FP8 checkpoints are made; config.json gets quantization_config.

Both read every file whole (load_file) and write with save_file; nothing is fsynced. Their
tensors equal g2convert's tensor for tensor, bit for bit (TP8 -> TP4, and FP8 block 8 on
g2synth's configs/grok-2-tiny.json set: 219 and 809 tensors compared)."""
import json, os, re, shutil, sys

import torch
from safetensors.torch import load_file, save_file

RANK_RE = re.compile(r"pytorch_model-(\d{5})-TP-(\d{3})\.safetensors$")


def split_axis(name):
    # Row-parallel w2 (down) is split on its input axis, column-parallel w1/w3 on the output.
    return 1 if name.endswith(".w2.weight") else 0


def copy_other(src, out, f, edit_config):
    if f == "config.json":
        cfg = json.load(open(os.path.join(src, f)))
        edit_config(cfg)
        json.dump(cfg, open(os.path.join(out, f), "w"), indent=2)
    elif not f.startswith("g2manifest") and not f.endswith(".safetensors"):
        shutil.copy(os.path.join(src, f), os.path.join(out, f))


def reshard(src, out, new_tp):
    groups = {}
    for f in sorted(os.listdir(src)):
        m = RANK_RE.match(f)
        if m:
            groups.setdefault(m.group(1), []).append(int(m.group(2)))
        elif f.endswith(".safetensors"):
            save_file(load_file(os.path.join(src, f)), os.path.join(out, f), metadata={"format": "pt"})
        else:
            copy_other(src, out, f, lambda c: c.get("g2_layout", {}).update(tp=new_tp))
    for group, ranks in groups.items():
        per = len(ranks) // new_tp
        for r in range(new_tp):
            parts = [load_file(os.path.join(src, "pytorch_model-%s-TP-%03d.safetensors" % (group, r * per + i)))
                     for i in range(per)]
            merged = {n: torch.cat([p[n] for p in parts], dim=split_axis(n)) for n in parts[0]}
            save_file(merged, os.path.join(out, "pytorch_model-%s-TP-%03d.safetensors" % (group, r)),
                      metadata={"format": "pt"})
            del parts, merged


def quantizable(name, t):
    return t.dim() == 2 and name.endswith(".weight") and not any(
        k in name for k in ("embed_tokens", "lm_head", "block_sparse_moe.gate."))


def fp8_block(w, b):
    """e4m3 weight and [ceil(N/b), ceil(K/b)] f32 scales of a [N, K] weight."""
    n, k = w.shape
    nb, kb = -(-n // b), -(-k // b)
    x = torch.nn.functional.pad(w.float(), (0, kb * b - k, 0, nb * b - n))  # zero padding: no effect on amax
    blocks = x.view(nb, b, kb, b)
    amax = blocks.abs().amax(dim=(1, 3))
    scale = torch.where(amax > 0, amax / 448.0, torch.ones_like(amax))
    q = (blocks / scale[:, None, :, None]).view(nb * b, kb * b)[:n, :k].to(torch.float8_e4m3fn)
    return q.contiguous(), scale


def fp8(src, out, b):
    for f in sorted(os.listdir(src)):
        if not f.endswith(".safetensors"):
            copy_other(src, out, f, lambda c: c.update(quantization_config={
                "quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [b, b]}))
            continue
        tensors = load_file(os.path.join(src, f))
        res = {}
        for name, t in tensors.items():
            if quantizable(name, t):
                q, s = fp8_block(t, b)
                res[name] = q
                res[name[: -len("weight")] + "weight_scale_inv"] = s
            else:
                res[name] = t
        save_file(res, os.path.join(out, f), metadata={"format": "pt"})
        del tensors, res


def main():
    mode, src, out, arg = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    os.makedirs(out, exist_ok=True)
    if mode == "reshard":
        reshard(src, out, arg)
    elif mode == "fp8":
        fp8(src, out, arg)
    else:
        sys.exit("usage: torch_peer.py reshard SRC OUT NEW_TP | fp8 SRC OUT BLOCK")


if __name__ == "__main__":
    main()

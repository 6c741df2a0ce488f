"""Make the negative controls of the SGLang loader gate: copies of good sets with one defect.

    python tamper.py swap-expert-scale SRC DST   # experts 0 and 1 trade weight_scale_inv (layer 0, w1)
    python tamper.py wrong-kv-head SRC DST       # one TP16 rank holds the neighbouring KV head's k_proj
    python tamper.py drop-scale SRC DST          # one weight_scale_inv tensor is missing

SRC is copied to DST (files hard-linked where untouched); the changed file is rewritten with the
Python safetensors package, keeping every other tensor and the metadata.
"""
import os
import shutil
import sys

from safetensors import safe_open
from safetensors.torch import save_file


def copy_set(src, dst):
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    for name in os.listdir(src):
        if name.endswith(".lock") or name.startswith("."):
            continue
        os.link(os.path.join(src, name), os.path.join(dst, name))


def load(path):
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def rewrite(dst, name, tensors, meta):
    path = os.path.join(dst, name)
    os.unlink(path)  # a hard link: never write through it into the source set
    save_file(tensors, path, metadata=meta)


def find(dst, key_part):
    """(file, tensor name) of the first tensor whose name contains key_part, files sorted."""
    for name in sorted(os.listdir(dst)):
        if name.endswith(".safetensors"):
            with safe_open(os.path.join(dst, name), "pt") as f:
                for k in sorted(f.keys()):
                    if key_part in k:
                        return name, k
    raise SystemExit(f"tamper.py: no tensor matching {key_part!r} in {dst}")


def swap_expert_scale(dst):
    a = "model.layers.0.block_sparse_moe.experts.0.w1.weight_scale_inv"
    b = "model.layers.0.block_sparse_moe.experts.1.w1.weight_scale_inv"
    fa, _ = find(dst, a)
    fb, _ = find(dst, b)
    if fa != fb:
        raise SystemExit("tamper.py: the two expert scales are in different files")
    tensors, meta = load(os.path.join(dst, fa))
    if bool((tensors[a] == tensors[b]).all()):
        raise SystemExit("tamper.py: the two scales are equal; swapping them changes nothing")
    tensors[a], tensors[b] = tensors[b].clone(), tensors[a].clone()
    rewrite(dst, fa, tensors, meta)


def wrong_kv_head(dst):
    # at TP 16 with 8 KV heads, rank r holds KV head r // 2: give rank 2 (head 1) rank 0's head 0
    own, key = find(dst, "model.layers.0.self_attn.k_proj.weight")
    rank_file = lambda r: own.replace("-TP-000", f"-TP-{r:03d}")
    head0, _ = load(os.path.join(dst, rank_file(0)))
    tensors, meta = load(os.path.join(dst, rank_file(2)))
    tensors[key] = head0[key].clone()
    rewrite(dst, rank_file(2), tensors, meta)


def drop_scale(dst):
    name, key = find(dst, "self_attn.o_proj.weight_scale_inv")
    tensors, meta = load(os.path.join(dst, name))
    del tensors[key]
    rewrite(dst, name, tensors, meta)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    what, src, dst = sys.argv[1:]
    actions = {"swap-expert-scale": swap_expert_scale, "wrong-kv-head": wrong_kv_head, "drop-scale": drop_scale}
    if what not in actions:
        raise SystemExit(f"tamper.py: unknown defect {what!r}; one of {', '.join(actions)}")
    copy_set(src, dst)
    actions[what](dst)


if __name__ == "__main__":
    main()

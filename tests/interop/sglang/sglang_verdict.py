"""Judge one rank's load of a converted checkpoint against SGLang's own split of the unsharded one.

The expected content of every parameter at (tp, rank) is what SGLang itself makes of the
unsharded (TP 1, Hugging Face layout) checkpoint at that rank, with every `load_presharded_*`
flag off so that SGLang narrows each full tensor with its own tensor-parallel rules. The
converted set must give the same bytes in every parameter, through the loading path its own
config.json selects. Checks, each a list of findings (empty = pass):
  - SGLang built and loaded the rank without raising;
  - every checkpoint tensor the loader read reached exactly one parameter `weight_loader` call;
  - every (parameter, shard, expert) was written exactly once;
  - every parameter the reference load writes is written, and equals the reference bit for bit
    (BF16, FP8 and scales alike: compared as raw bytes);
  - no parameter keeps the NaN it was filled with.
"""
from collections import Counter

import torch


def _bytes(t):
    return t.contiguous().view(torch.uint8).reshape(-1)


def _nan_mask(t):
    return torch.isnan(t.float()) if t.dtype.is_floating_point else torch.zeros_like(t, dtype=torch.bool)


def _where(mask, shape):
    """A short description of where a boolean mask is set: count and first index."""
    n = int(mask.sum())
    first = tuple(int(i) for i in torch.nonzero(mask.reshape(shape))[0].tolist()) if n else ()
    return f"{n} of {mask.numel()} elements, first at {first}"


def loader_findings(load):
    out = []
    if load.error:
        return [f"SGLang failed: {load.error}"]
    per_tensor = Counter(t for _, _, _, t in load.calls)
    for name in load.tensors:
        if per_tensor[name] == 0:
            out.append(f"checkpoint tensor {name} reached no parameter (SGLang skipped it)")
        elif per_tensor[name] > 1:
            out.append(f"checkpoint tensor {name} was loaded {per_tensor[name]} times")
    per_shard = Counter((p, s, e) for p, s, e, _ in load.calls)
    for (param, shard, expert), n in sorted(per_shard.items(), key=str):
        if n != 1:
            where = "".join([f" shard {shard}" if shard is not None else "",
                             f" expert {expert}" if expert is not None else ""])
            out.append(f"{param}{where} written {n} times")
    return out


def compare_findings(got, ref):
    """`got` and `ref` are RankLoads of the same (tp, rank)."""
    if got.error or ref.error:
        return []  # reported by loader_findings
    out = []
    ref_written = {p for p, _, _, _ in ref.calls}
    got_written = {p for p, _, _, _ in got.calls}
    for name, r in ref.params.items():
        g = got.params.get(name)
        if g is None:
            out.append(f"{name}: missing from the model built for this set")
            continue
        if g.shape != r.shape or g.dtype != r.dtype:
            out.append(f"{name}: {tuple(g.shape)} {g.dtype}, expected {tuple(r.shape)} {r.dtype}")
            continue
        if name not in ref_written and name not in got_written:
            continue  # no checkpoint tensor feeds it (e.g. KV-cache scales of a dynamic FP8 set)
        if name not in got_written:
            out.append(f"{name}: never written (the set holds no tensor for it)")
            continue
        ref_nan = _nan_mask(r)
        if bool(ref_nan.any()):
            out.append(f"{name}: the reference load left {_where(ref_nan, r.shape)} unwritten")
            continue
        got_nan = _nan_mask(g)
        if bool(got_nan.any()):
            out.append(f"{name}: {_where(got_nan, g.shape)} never written")
            continue
        gb, rb = _bytes(g), _bytes(r)
        if not torch.equal(gb, rb):
            elem = g.element_size()
            diff = (gb.view(-1, elem) != rb.view(-1, elem)).any(dim=1)
            out.append(f"{name}: {_where(diff, g.shape)} differ from SGLang's split of the unsharded tensor")
    for name in got.params:
        if name not in ref.params:
            out.append(f"{name}: not in the model built for the reference")
    return out

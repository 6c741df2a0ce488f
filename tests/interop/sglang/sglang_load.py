"""Load one tensor-parallel rank of a checkpoint with SGLang's own loader and record what it did.

`load_rank(set_dir, tp, rank)` builds the real model class (`Grok1ForCausalLM` for these
configs) on the CPU for that rank, fills every parameter with NaN, hooks every parameter's
`weight_loader`, and streams the checkpoint through `DefaultModelLoader`'s file selection and
safetensors iterator into the model's real `load_weights`. The result holds the parameters
(as raw bytes), every loader call (parameter, shard, expert, checkpoint tensor), the tensors
the iterator produced, the files it read and the quantization method SGLang chose.
"""
import dataclasses
from collections import Counter

import torch

import sglang_host


@dataclasses.dataclass
class RankLoad:
    set_dir: str
    tp: int
    rank: int
    hf_model_type: str = ""
    architecture: str = ""
    quant: dict = dataclasses.field(default_factory=dict)  # SGLang's quantization method, if any
    files: list = dataclasses.field(default_factory=list)  # checkpoint files the loader opened
    tensors: list = dataclasses.field(default_factory=list)  # checkpoint tensor names, in order
    calls: list = dataclasses.field(default_factory=list)  # (param, shard, expert, tensor)
    params: dict = dataclasses.field(default_factory=dict)  # name -> tensor after loading
    error: str = ""  # SGLang raised while building or loading (its message)


def _shard_key(args, kwargs):
    """(shard, expert) of one loader call, as grok.py's load_weights passes them: experts as
    keywords, the fused q/k/v and gate/up shard ids as the third positional argument."""
    if "shard_id" in kwargs:
        return kwargs["shard_id"], kwargs.get("expert_id")
    return (args[0] if args else None), None


def _hook_loaders(model, record, current):
    from sglang.srt.model_loader.weight_utils import default_weight_loader

    for name, param in model.named_parameters():
        original = getattr(param, "weight_loader", default_weight_loader)

        def hooked(p, loaded, *args, _name=name, _original=original, **kwargs):
            shard, expert = _shard_key(args, kwargs)
            record.calls.append((_name, shard, expert, current[0]))
            return _original(p, loaded, *args, **kwargs)

        if isinstance(getattr(type(param), "weight_loader", None), property):
            param._weight_loader = hooked  # SGLang's BasevLLMParameter keeps it behind a property
        else:
            param.weight_loader = hooked


def _fill_nan(model):
    with torch.no_grad():
        for _, p in model.named_parameters():
            if p.dtype.is_floating_point:
                p.data.fill_(float("nan"))
            else:
                p.data.fill_(-1)


def _quant_summary(quant_config, model):
    if quant_config is None:
        return {}
    methods = Counter(type(m.quant_method).__name__ for _, m in model.named_modules()
                      if getattr(m, "quant_method", None) is not None)
    return {
        "config": type(quant_config).__name__,
        "serialized": bool(getattr(quant_config, "is_checkpoint_fp8_serialized", False)),
        "weight_block_size": getattr(quant_config, "weight_block_size", None),
        "activation_scheme": getattr(quant_config, "activation_scheme", None),
        "methods": dict(methods),
    }


def load_rank(set_dir, tp, rank, override_args=None):
    from sglang.srt.configs.load_config import LoadConfig
    from sglang.srt.configs.model_config import ModelConfig
    from sglang.srt.model_loader import loader as sgl_loader

    record = RankLoad(set_dir=set_dir, tp=tp, rank=rank)
    try:
        server_args = sglang_host.publish_rank(set_dir, tp, rank, override_args)
        model_config = ModelConfig.from_server_args(server_args)
        record.hf_model_type = model_config.hf_config.model_type
        record.architecture = ",".join(model_config.hf_config.architectures or [])
        load_config = LoadConfig(load_format=server_args.load_format)
        loader = sgl_loader.DefaultModelLoader(load_config)
        quant_config = sgl_loader._get_quantization_config(model_config, load_config)
        with sgl_loader.set_default_torch_dtype(model_config.dtype), torch.device("cpu"):
            model = sgl_loader._initialize_model(model_config, load_config, quant_config)
        record.quant = _quant_summary(quant_config, model)
        _fill_nan(model)
        current = [None]
        _hook_loaders(model, record, current)
        _, files, _ = loader._prepare_weights(set_dir, None, True, None)
        record.files = sorted(files)

        def weights():
            for name, tensor in loader._get_all_weights(model_config, model):
                current[0] = name
                record.tensors.append(name)
                yield name, tensor

        model.load_weights(weights())
        record.params = {n: p.detach().clone() for n, p in model.named_parameters()}
    except Exception as e:  # SGLang's own refusal is a finding, reported with its message
        record.error = f"{type(e).__name__}: {e}"
    return record

"""Run SGLang's own model construction and weight loading on a CPU-only machine.

SGLang is a GPU server: a few of its modules load CUDA kernel libraries when imported
(`sgl_kernel`, and `vllm._custom_ops` for a RoPE fallback). None of them is called while a
model is built and its weights are loaded, so this module answers their imports with stub
modules whose functions raise if anything ever calls them. Everything else -- the server
arguments, the process-wide config publication, `ModelConfig`, the quantization config, the
model classes, `DefaultModelLoader`'s file selection (patched by `models/grok.py` for
presharded sets) and every `weight_loader` -- is SGLang's real code from the pinned package.

The tensor-parallel rank and size are SGLang's own: `publish()` with a `SpawnRanks` placement,
exactly as its launcher does per GPU process; only the process group object is a plain stand-in
(no collective runs while loading).
"""
import importlib.abc
import importlib.machinery
import os
import sys
import types

# GPU-only packages SGLang imports at module level but never calls while loading weights.
_STUBBED = ("sgl_kernel", "vllm")


class _NotOnThisMachine:
    def __init__(self, name):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self._name} is a GPU kernel; the loader harness never runs kernels")

    def __getattr__(self, attr):
        return _NotOnThisMachine(f"{self._name}.{attr}")

    def __bool__(self):
        return False


class _StubModule(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _NotOnThisMachine(f"{self.__name__}.{attr}")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in _STUBBED:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _StubModule(spec.name)

    def exec_module(self, module):
        module.__path__ = []


def install():
    """Call before importing sglang."""
    if not any(isinstance(f, _StubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder())
    os.environ.setdefault("SGLANG_USE_CPU_ENGINE", "0")  # the GPU server's loading code paths
    import logging

    logging.getLogger("sglang").setLevel(logging.WARNING)


class _TpGroup:
    """What model construction reads of the tensor-parallel group (sizes, ranks)."""

    def __init__(self, tp, rank):
        self.world_size = tp
        self.rank_in_group = rank
        self.rank = rank
        self.local_rank = rank
        self.ranks = list(range(tp))
        self.device_group = None
        self.cpu_group = None
        self.unique_name = "tp:0"


def publish_rank(set_dir, tp, rank, override_args=None):
    """SGLang's server arguments for `--model-path set_dir --tp tp`, published for one rank.

    Returns the ServerArgs. `override_args` is SGLang's `--json-model-override-args` (a dict).
    """
    import json

    from sglang.srt.runtime_context import SpawnRanks, get_parallel, publish
    from sglang.srt.server_args import ServerArgs

    kwargs = dict(model_path=set_dir, tp_size=tp, device="cpu", skip_tokenizer_init=True)
    if override_args:
        kwargs["json_model_override_args"] = json.dumps(override_args)
    server_args = ServerArgs(**kwargs)
    get_parallel().clear_stamp()  # the previous rank's placement: publish validates against it
    publish(server_args, role="scheduler", ranks=SpawnRanks(world_rank=rank))
    get_parallel().override_permanently(tp_group=_TpGroup(tp, rank))
    return server_args

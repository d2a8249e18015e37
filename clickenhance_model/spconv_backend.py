"""The one place that adapts spconv to the machine: CPU workarounds and device choice.

spconv 2.3's CPU build has two limits (see README, "spconv on the CPU"):
1. backward calls `torch.cuda.current_stream()` before taking its CPU branch, which
   fails on a CPU-only torch ("Torch not compiled with CUDA enabled"). We replace
   `get_current_stream` in the modules that imported it with a version returning the
   null stream 0 when CUDA is unavailable. On a CUDA machine nothing is patched.
2. convolutions with `bias=True` fail on the CPU ("cpu don't support act and bias"):
   every convolution in this package uses `bias=False` and puts the bias in the norm
   layer after it.
3. the CPU forward's `SpconvOps.scatter_add_cpu` is not thread-safe: with more than one
   torch thread it intermittently loses updates (wrong conv outputs, off by up to ~0.1,
   even with unique output rows; checked against dense conv3d). We route it through
   torch's `index_add_`, which is correct with any thread count. Applied on every
   machine, since CPU tensors take this path even where CUDA exists.

Import `spconv` through this module (`from clickenhance_model.spconv_backend import spconv`)
so the patch is applied before any convolution runs.
"""

from __future__ import annotations

import sys

import torch

try:
    import spconv.pytorch as spconv  # noqa: F401  (re-exported)
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "spconv is not installed: pip install 'clickenhance[cpu]' (CPU build) or 'clickenhance[gpu]' "
        "(CUDA 12 build, spconv-cu120)"
    ) from error

_PATCHED = False
_SCATTER_PATCHED = False


class _SpconvOpsSafeScatter:
    """Stand-in for spconv's `SpconvOps` whose `scatter_add_cpu` uses torch; all else is delegated."""

    def __init__(self, ops: object):
        self._ops = ops

    def __getattr__(self, name: str) -> object:
        return getattr(self._ops, name)

    @staticmethod
    def scatter_add_cpu(out: object, buffer: object, indices: object) -> None:
        """out[indices[i]] += buffer[i] for i < len(indices) (tv tensors viewed as torch tensors, no copy)."""
        index = torch.from_numpy(indices.numpy_view()).long()  # [M]
        source = torch.from_numpy(buffer.numpy_view())[: len(index)]  # [M, C]
        torch.from_numpy(out.numpy_view()).index_add_(0, index, source)


def apply_thread_safe_scatter() -> bool:
    """Make spconv's CPU gather-mm-scatter correct with several threads; True once patched."""
    global _SCATTER_PATCHED
    if not _SCATTER_PATCHED:
        import spconv.pytorch.ops as spconv_ops

        spconv_ops.SpconvOps = _SpconvOpsSafeScatter(spconv_ops.SpconvOps)
        _SCATTER_PATCHED = True
    return _SCATTER_PATCHED


def _null_stream_when_no_cuda() -> int:
    """CUDA stream handle for spconv's kernels: the current stream, or 0 on a CPU-only torch."""
    if torch.cuda.is_available():
        return torch.cuda.current_stream().cuda_stream
    return 0


def apply_cpu_workarounds() -> bool:
    """Patch spconv so backward works without CUDA; returns True if a patch was applied."""
    global _PATCHED
    if _PATCHED or torch.cuda.is_available():
        return _PATCHED
    for name in ("spconv.pytorch.cppcore", "spconv.pytorch.ops", "spconv.pytorch.hash"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "get_current_stream"):
            module.get_current_stream = _null_stream_when_no_cuda
    _PATCHED = True
    return True


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn "auto" / "cpu" / "cuda[:N]" into a torch.device; "auto" picks CUDA when present."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
    return resolved


apply_cpu_workarounds()
apply_thread_safe_scatter()

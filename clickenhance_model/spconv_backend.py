"""The one place that adapts spconv to the machine: CPU workarounds and device choice.

spconv 2.3's CPU build has three problems (see README, "spconv on the CPU"):
1. backward calls `torch.cuda.current_stream()` before taking its CPU branch, which
   fails on a CPU-only torch ("Torch not compiled with CUDA enabled"). We replace
   `get_current_stream` in the modules that imported it with a version returning the
   null stream 0 when CUDA is unavailable. On a CUDA machine nothing is patched.
2. convolutions with `bias=True` fail on the CPU ("cpu don't support act and bias"):
   every convolution in this package uses `bias=False` and puts the bias in the norm
   layer after it.
3. the CPU convolutions are wrong with more than one OpenMP thread: spconv's
   `GatherCPU::scatter_add` (spconv/csrc/sparse/gather.py) declares its row pointers
   outside the parallel lambda, so threads share them and add rows to the wrong place
   (outputs and gradients off by up to ~1 against dense conv3d, intermittently). We run
   `ops.indice_conv` and `ops.indice_conv_backward` with one thread when their features
   are on the CPU; other torch ops keep the caller's thread count. On 2 cores this is
   also faster (tiny per-offset ops spend their time in OpenMP barriers), e.g. one
   120k-point click: 0.21 s serial convolutions vs 0.34 s with 2 threads. Applied on
   every machine, since CPU tensors take this path even where CUDA exists.

Import `spconv` through this module (`from clickenhance_model.spconv_backend import spconv`)
so the patch is applied before any convolution runs.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import torch

try:
    import spconv.pytorch as spconv  # noqa: F401  (re-exported)
except ImportError as error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "spconv is not installed: pip install 'clickenhance[cpu]' (CPU build) or 'clickenhance[gpu]' "
        "(CUDA 12 build, spconv-cu126)"
    ) from error

_PATCHED = False
_SERIAL_PATCHED = False


def _serial_on_cpu(function: Callable) -> Callable:
    """Wrap a spconv CPU kernel entry (first argument: features) to run with one OpenMP thread."""

    @functools.wraps(function)
    def serial(features: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        threads = torch.get_num_threads()
        if features.is_cuda or threads == 1:
            return function(features, *args, **kwargs)
        torch.set_num_threads(1)
        try:
            return function(features, *args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return serial


def apply_serial_cpu_convolution() -> bool:
    """Run spconv's CPU gather-mm-scatter convolutions single-threaded (correct and faster); True once patched."""
    global _SERIAL_PATCHED
    if not _SERIAL_PATCHED:
        import spconv.pytorch.ops as spconv_ops

        for name in ("indice_conv", "indice_conv_backward"):
            setattr(spconv_ops, name, _serial_on_cpu(getattr(spconv_ops, name)))
        _SERIAL_PATCHED = True
    return _SERIAL_PATCHED


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


def use_convolution_algorithm(module: torch.nn.Module, on_cuda: bool) -> int:
    """Set every spconv convolution in `module` to the algorithm for its features' device; returns how many changed.

    A CUDA build of spconv gives each convolution the implicit-GEMM algorithm when it is built,
    and that algorithm refuses CPU tensors ("implicit gemm only support cuda"); the CPU takes the
    native gather-GEMM-scatter one. Both read the same weight layout (spconv's KRSC), so the same
    weights run on either device once the algorithm follows the features.
    """
    from spconv.core import ConvAlgo
    from spconv.cppconstants import CPU_ONLY_BUILD
    from spconv.pytorch.conv import SparseConvolution

    algorithm = ConvAlgo.MaskImplicitGemm if on_cuda and not CPU_ONLY_BUILD else ConvAlgo.Native
    changed = 0
    for layer in module.modules():
        if isinstance(layer, SparseConvolution) and layer.algo != algorithm:
            layer.algo = algorithm
            changed += 1
    return changed


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
apply_serial_cpu_convolution()

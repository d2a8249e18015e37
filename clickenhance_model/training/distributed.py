"""The runtime of one training process: device, torchrun/DDP process group, sharding and the AMP policy.

On a CPU (or with one process) training is plain single-process. Started by `torchrun
--nproc_per_node=K` on a CUDA machine (WORLD_SIZE > 1 in the environment), each process
joins an NCCL process group, takes GPU LOCAL_RANK and its share of every epoch's samples,
and the model is wrapped in DistributedDataParallel. Only rank 0 writes files and validates.
Mixed precision (float16 autocast + gradient scaling) is used only on CUDA.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from clickenhance_model.spconv_backend import resolve_device

T = TypeVar("T")
PROCESS_GROUP_TIMEOUT = datetime.timedelta(hours=2)  # other ranks wait at a barrier while rank 0 validates


@dataclass(frozen=True)
class ProcessContext:
    """Who this process is in the run: rank, world size and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, validates and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def init_process(device: str = "auto", cpu_threads: int = 0) -> ProcessContext:
    """Join the torchrun process group when WORLD_SIZE > 1 (CUDA only), else a single-process context.

    `cpu_threads` > 0 sets torch's thread count when training on the CPU: spconv's CPU path
    runs many small operations, and on a busy machine two threads were measured 10-30x
    slower than one (threads waiting for each other), so the CLI uses one by default.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        resolved = resolve_device(device)
        if resolved.type == "cpu" and cpu_threads > 0:
            torch.set_num_threads(cpu_threads)
        return ProcessContext(0, 1, resolved)
    if not torch.cuda.is_available():
        raise RuntimeError(f"WORLD_SIZE={world_size}: multi-process training needs CUDA; run one process on the CPU")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl", timeout=PROCESS_GROUP_TIMEOUT)
    return ProcessContext(dist.get_rank(), dist.get_world_size(), torch.device("cuda", local_rank))


def close_process(context: ProcessContext) -> None:
    """Leave the process group (no-op for a single process)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: ProcessContext) -> None:
    """Wait for every process (no-op for a single process)."""
    if context.distributed:
        dist.barrier()


def shard(samples: Sequence[T], context: ProcessContext) -> list[T]:
    """This rank's share of an epoch's samples, padded by wrapping so every rank gets the same count."""
    if not context.distributed:
        return list(samples)
    per_rank = -(-len(samples) // context.world_size)
    padded = list(samples) + list(samples[: per_rank * context.world_size - len(samples)])
    return padded[context.rank :: context.world_size]


def wrap_model(model: torch.nn.Module, context: ProcessContext, all_parameters_used: bool) -> torch.nn.Module:
    """DistributedDataParallel around `model` in a multi-process run, else the model itself."""
    if not context.distributed:
        return model
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[context.device.index], find_unused_parameters=not all_parameters_used
    )


def mean_over_processes(value: float, context: ProcessContext) -> float:
    """Mean of a scalar over all processes (the value itself for a single process)."""
    if not context.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / context.world_size


def amp_enabled(device: torch.device, requested: bool) -> bool:
    """Mixed precision is used only when asked for and on CUDA."""
    return bool(requested) and device.type == "cuda"


@contextlib.contextmanager
def amp_context(device: torch.device, requested: bool) -> Iterator[None]:
    """float16 autocast on CUDA when AMP is asked for; nothing otherwise."""
    if amp_enabled(device, requested):
        with torch.autocast(device_type="cuda", dtype=torch.float16):
            yield
    else:
        yield

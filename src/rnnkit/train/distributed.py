"""Data-parallel training across processes started by ``torchrun``.

``torchrun --nproc_per_node=N -m rnnkit train ...`` sets RANK, LOCAL_RANK and WORLD_SIZE in
each process's environment; `setup` reads them, joins the process group (gloo on CPU, nccl
on GPU) and picks the device. Without those variables everything runs in one process and
no process group is created. Rank 0 alone logs and writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """Where this process sits: its rank among ``world_size`` and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> Context:
    """Join the process group when launched by torchrun; choose the device.

    Args:
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:K"``. Under torchrun with CUDA, each process takes GPU ``LOCAL_RANK``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = resolve_device(device)
    if chosen.type == "cuda" and world_size > 1:
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return Context(rank, world_size, local_rank, chosen)


def resolve_device(device: str = "auto") -> torch.device:
    """The device ``train.device`` names (see `setup`), checked: "auto" is CUDA when
    available, else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:K, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available here")
    return torch.device(device)


def teardown(wait: bool = True) -> None:
    """Leave the process group. With ``wait``, first wait for every rank: a rank that left
    while rank 0 was still writing its last files made gloo abort the process."""
    if dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], context: Context) -> list[float]:
    """Sum a few numbers over all processes (a no-op in one process)."""
    if not context.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()

"""Device choice and the optional ``torchrun`` process group.

Training runs unchanged as one process or under ``torchrun --nproc_per_node=K``:
torchrun's environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``) turns on a process
group, NCCL between GPUs and gloo between CPU processes. Only rank 0 writes files and
prints progress; metrics are summed across ranks with ``all_reduce``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Context:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def all_reduce(self, tensor: torch.Tensor, op=dist.ReduceOp.SUM) -> torch.Tensor:
        """Reduce ``tensor`` across ranks in place (a no-op in a single process)."""
        if self.distributed:
            on_device = tensor.to(self.device)
            dist.all_reduce(on_device, op=op)
            tensor.copy_(on_device.to(tensor.device))
        return tensor

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any rank (to stop together)."""
        if not self.distributed:
            return flag
        return bool(self.all_reduce(torch.tensor([float(flag)]), dist.ReduceOp.MAX).item())


def pick_device(choice: str, local_rank: int = 0) -> torch.device:
    if choice not in DEVICES:
        raise ValueError(f"unknown device {choice!r}; valid: {list(DEVICES)}")
    if choice == "cuda" and not torch.cuda.is_available():
        build = "a CUDA" if torch.version.cuda else "a CPU-only"
        raise ValueError(f"--device cuda: PyTorch sees no CUDA device ({build} build, {torch.__version__})")
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def setup(device_choice: str) -> Context:
    """The device and, under torchrun, the process group (NCCL on GPUs, gloo on CPUs)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_choice, local_rank)
    if world_size == 1:
        return Context(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    context = Context(device, dist.get_rank(), world_size,
                      int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size))))
    log.info("rank %d of %d on %s (%s)", context.rank, world_size, device, backend)
    return context


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

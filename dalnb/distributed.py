"""``torchrun`` and DistributedDataParallel set-up, in one place: the rank and world size from
the environment, the process group (nccl on GPUs, gloo on the CPU), each rank's device, and a
barrier that is a no-op in a single process."""

from __future__ import annotations

import os

import torch

__all__ = ["rank_world", "device_for", "init", "barrier", "broadcast_buffers"]


def rank_world() -> tuple[int, int]:
    """(RANK, WORLD_SIZE) set by ``torchrun``; (0, 1) in a single process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def device_for(dev: str | None) -> torch.device:
    """``dev``, or this rank's GPU when ``dev`` is None and CUDA is present, else the CPU."""
    rank, _ = rank_world()
    if dev is None and torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count()
        return torch.device(f"cuda:{local}")
    return torch.device(dev or "cpu")


def init() -> None:
    """Join the process group once (nccl with CUDA, gloo without); a no-op in one process."""
    if rank_world()[1] == 1:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def barrier() -> None:
    """Wait for every rank; a no-op in one process."""
    if rank_world()[1] > 1:
        import torch.distributed as dist

        dist.barrier()


def broadcast_buffers(model: torch.nn.Module) -> None:
    """Rank 0's buffers (BatchNorm statistics) to every rank; a no-op in one process."""
    if rank_world()[1] > 1:
        import torch.distributed as dist

        for buf in model.buffers():
            dist.broadcast(buf, 0)

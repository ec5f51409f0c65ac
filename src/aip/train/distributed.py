"""Distributed data parallel training: process group set-up from torchrun's environment, a local launcher.

``aip train`` started by ``torchrun --nproc_per_node K`` finds ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` in
its environment, joins a process group (NCCL on GPUs, Gloo on CPU), wraps the model in
:class:`~torch.nn.parallel.DistributedDataParallel` and shards each epoch with a DistributedSampler; rank 0
alone logs, writes sample grids and checkpoints.

References
----------
Li et al., "PyTorch Distributed: experiences on accelerating data parallel training", VLDB 2020.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist


def env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def init_distributed(device: torch.device | None = None) -> tuple[int, int]:
    """Join the process group described by the environment (torchrun) if there is one.

    Returns ``(rank, world_size)``; ``(0, 1)`` when not launched distributed. Under CUDA each process uses
    the GPU ``LOCAL_RANK``.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if env_world_size() <= 1:
        return 0, 1
    use_cuda = device is not None and device.type == "cuda"
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return dist.get_rank(), dist.get_world_size()


def local_device(device: torch.device) -> torch.device:
    """Under CUDA and DDP, the process's own GPU (``LOCAL_RANK``); otherwise ``device`` unchanged."""
    if device.type == "cuda" and dist.is_available() and dist.is_initialized() and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def wrap_ddp(model: torch.nn.Module, device: torch.device, *, find_unused_parameters: bool = False):
    """Wrap ``model`` in DistributedDataParallel (parameters broadcast from rank 0)."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused_parameters)


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, fn: Callable, args: tuple) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": str(world)})
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        fn(rank, world, *args)
    finally:
        dist.destroy_process_group()


def launch(fn: Callable, nprocs: int, *args: Any) -> None:
    """Run ``fn(rank, world_size, *args)`` in ``nprocs`` local CPU processes joined by Gloo.

    ``fn`` must be importable (a module-level function). This is what a 2-process test uses; real
    multi-GPU or multi-node runs use ``torchrun`` instead.
    """
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(nprocs, free_port(), fn, args), nprocs=nprocs, join=True)

"""One process or many under torchrun: rank, barriers, reductions and the data shard of this process.

Started by ``torchrun`` (RANK / WORLD_SIZE / LOCAL_RANK in the environment) the run joins a process
group (gloo on the CPU, NCCL on GPUs) and wraps the trained model in DistributedDataParallel; started
plainly it is a group of one and every helper here is a no-op.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Subset
from torch.utils.data.distributed import DistributedSampler


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def sum(self, values: list[float], device) -> list[float]:
        """Element-wise sum over the processes."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every process."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sync_buffers(self, model: torch.nn.Module) -> None:
        """Copy rank 0's buffers (batch-norm running statistics) to every process, so the replicas are equal."""
        if self.enabled:
            for buf in model.buffers():
                dist.broadcast(buf, src=0)

    def wrap(self, model: torch.nn.Module, device) -> torch.nn.Module:
        if not self.enabled:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def from_environment(device_type: str) -> Dist:
    """Join the process group that torchrun set up, or a group of one when not started by torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Dist()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return Dist(rank, world_size, local_rank)


def train_loader(dataset: Dataset, batch_size: int, seed: int, epoch: int, d: Dist) -> DataLoader:
    """This process's shuffled share of ``dataset`` for ``epoch``; the order depends only on (seed, epoch).

    With one process the sampler is a DistributedSampler of one replica, so the same code (and the same
    deterministic shuffle) serves both cases; ``batch_size`` is per process.
    """
    sampler = DistributedSampler(dataset, num_replicas=d.world_size, rank=d.rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler)


def eval_shard(dataset: Dataset, d: Dist) -> Dataset:
    """Every ``world_size``-th item from ``rank`` on: the shards cover the dataset exactly once (no padding)."""
    if not d.enabled:
        return dataset
    return Subset(dataset, range(d.rank, len(dataset), d.world_size))

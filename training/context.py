"""What every stage of a run shares: processes, device, log, time estimate, hyper-parameters."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from training.distributed import Dist
from training.eta import Eta
from training.faults import Faults
from training.log import Log


@dataclass
class Context:
    device: torch.device
    batch_size: int  # global: split evenly over the processes
    lr: float
    seed: int
    dist: Dist = field(default_factory=Dist)
    log: Log = field(default_factory=Log)
    eta: Eta = field(default_factory=Eta)
    faults: Faults = field(default_factory=Faults)

    @property
    def batch_per_process(self) -> int:
        return self.batch_size // self.dist.world_size

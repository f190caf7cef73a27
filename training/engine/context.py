"""What every stage of a run shares: processes, device, log, time estimate, hyper-parameters."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from training.engine.distributed import Dist
from training.engine.eta import Eta
from training.engine.faults import Faults
from training.engine.log import Log


@dataclass
class Context:
    device: torch.device
    batch_size: int  # global: split evenly over the processes
    lr: float
    seed: int
    amp: bool = False  # --amp: bfloat16 autocast around the training forward passes
    dist: Dist = field(default_factory=Dist)
    log: Log = field(default_factory=Log)
    eta: Eta = field(default_factory=Eta)
    faults: Faults = field(default_factory=Faults)

    def autocast(self):
        """The context of a training forward pass: bfloat16 autocast with ``amp``, else nothing."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    @property
    def batch_per_process(self) -> int:
        return self.batch_size // self.dist.world_size

"""Tiny model and data for the training-loop tests (plain torch: no audio, no dyconv)."""
import torch
from torch import nn
from torch.utils.data import TensorDataset

from training.engine.context import Context
from training.engine.faults import Faults
from training.engine.log import Log


def tiny_model() -> nn.Module:
    """Batch norm (buffers), dropout (draws random numbers) and two layers."""
    return nn.Sequential(nn.Flatten(), nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(16, 3))


def tiny_data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.randn(n, 1, 2, 4, generator=g) + y[:, None, None, None].float()
    return TensorDataset(x, y)


def tiny_context(batch_size=8, faults="", **kwargs) -> Context:
    return Context(torch.device("cpu"), batch_size, 1e-2, seed=3, log=Log(enabled=False), faults=Faults(faults),
                   **kwargs)

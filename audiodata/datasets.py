"""PyTorch datasets over cached features, and a seeded loader."""
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class FeatureDataset(Dataset):
    """Items ``(x, y)``: x float32 tensor (1, n_mels, n_frames) in [0, 1], y the int class id."""

    def __init__(self, features, labels, names=()):
        features = np.ascontiguousarray(features, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        if features.ndim != 3 or features.shape[0] != labels.shape[0]:
            raise ValueError(f"features: expected (N, n_mels, n_frames) with N = {labels.shape[0]} labels, "
                             f"got shape {features.shape}")
        self.features = torch.from_numpy(features)
        self.labels = torch.from_numpy(labels)
        self.names = list(names)

    def __len__(self):
        return self.labels.shape[0]

    def __getitem__(self, i):
        return self.features[i].unsqueeze(0), int(self.labels[i])


def make_loader(dataset, batch_size=64, *, shuffle=False, seed=0, num_workers=0):
    """A DataLoader whose shuffling order is a function of ``seed`` only."""
    generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      num_workers=num_workers)

"""Classification rate of a model on a dataset, and the paper's evaluation grid (§4.3)."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from training.engine.context import Context
from training.engine.distributed import eval_shard


def accuracy(model: torch.nn.Module, dataset: Dataset, ctx: Context) -> tuple[float, int]:
    """(fraction correct, number of clips) of ``model`` on ``dataset``, the clips shared out over the processes."""
    loader = DataLoader(eval_shard(dataset, ctx.dist), batch_size=ctx.batch_per_process)
    model.eval()
    correct = n = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(ctx.device), y.to(ctx.device)
            correct += (model(x).argmax(1) == y).sum().item()
            n += len(y)
    correct, n = ctx.dist.sum([correct, n], ctx.device)
    return (correct / n if n else float("nan")), int(n)


def conditions(noise_types, snrs_db) -> list[tuple[str, str, float | None]]:
    """(split, noise, snr_db) of every evaluation: fold 9 and fold 10 clean, then fold 10 with each noise x SNR."""
    grid = [("dev", "clean", None), ("test", "clean", None)]
    grid += [("test", noise, snr) for snr in snrs_db for noise in noise_types]
    return grid


def evaluate(method: str, model: torch.nn.Module, splits, noise_types, snrs_db, ctx: Context) -> list[dict]:
    """The rows of results.csv for one method: accuracy on every condition of :func:`conditions`."""
    rows = []
    grid = conditions(noise_types, snrs_db)
    bar = ctx.log.bar(grid, desc=f"evaluate {method}", unit="set", leave=False)
    for split, noise, snr in bar:
        if split == "dev":
            dataset = splits.dev
        elif noise == "clean":
            dataset = splits.test
        else:
            dataset = splits.noisy_test(noise, snr)
        acc, n = accuracy(model, dataset, ctx)
        rows.append({"method": method, "split": split, "noise": noise, "snr_db": snr, "accuracy": acc, "n": n})
    return rows

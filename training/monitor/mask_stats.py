"""Statistics of the enhancers' masks: how far they are from 1 (the identity) on a dataset.

A mask that stays near 1 everywhere leaves the input as it is: the enhancer then cannot enhance.
Per mask stage (DCL and DSL have two): the mean and standard deviation over every time-frequency
bin of every clip, and the fraction of bins below 0.5 and below 0.9.
"""
from __future__ import annotations

import contextlib

import torch
from torch.utils.data import DataLoader, Dataset

from training.engine.context import Context
from training.engine.distributed import eval_shard

THRESHOLDS = (0.5, 0.9)
FIELDS = ("mean", "std", *(f"below_{t:g}" for t in THRESHOLDS))  # keys of one stage's statistics


class MaskAccumulator:
    """Running sums over masks of one stage: count, sum, sum of squares, bins below each threshold."""

    def __init__(self):
        self.sums = [0.0] * (3 + len(THRESHOLDS))

    def add(self, mask: torch.Tensor) -> None:
        m = mask.detach().double()
        parts = [m.numel(), m.sum().item(), (m * m).sum().item()] + [(m < t).sum().item() for t in THRESHOLDS]
        self.sums = [a + b for a, b in zip(self.sums, parts)]

    def result(self) -> dict[str, float]:
        n, s, ss, *below = self.sums
        if n == 0:
            return {k: float("nan") for k in FIELDS}
        mean = s / n
        var = max(ss / n - mean * mean, 0.0)
        return dict(zip(FIELDS, [mean, var ** 0.5, *(b / n for b in below)]))


def summarize(masks: list[torch.Tensor]) -> dict[str, float]:
    """Statistics of one stage's masks (any shapes, values in [0, 1]): mean, std, below_0.5, below_0.9."""
    acc = MaskAccumulator()
    for m in masks:
        acc.add(m)
    return acc.result()


@contextlib.contextmanager
def watch(model: torch.nn.Module):
    """While inside, every forward pass of ``model``'s mask stages adds its mask to the yielded accumulators
    (one per stage; none for a model without masks), so the statistics come with a pass made anyway, such as
    the dev accuracy's."""
    stages = model.stages() if hasattr(model, "enhance") else []
    accs = [MaskAccumulator() for _ in stages]
    calls = 0

    def add(_module, _inputs, mask):  # the k-th stage call of a pass is stage k (DSL runs one module twice)
        nonlocal calls
        accs[calls % len(accs)].add(mask)
        calls += 1

    hooks = [stage.register_forward_hook(add) for stage in {id(s): s for s in stages}.values()]
    try:
        yield accs
    finally:
        for h in hooks:
            h.remove()


def results(accs: list[MaskAccumulator], ctx: Context) -> list[dict[str, float]]:
    """The statistics of :func:`watch`'s accumulators, summed over the processes under torchrun."""
    for acc in accs:
        acc.sums = ctx.dist.sum(acc.sums, ctx.device)
    return [acc.result() for acc in accs]


def mask_statistics(model: torch.nn.Module, dataset: Dataset, ctx: Context) -> list[dict[str, float]]:
    """One dict per mask stage of an enhancer (``model.enhance``) over ``dataset``, in eval mode; [] for a
    model without masks. Under torchrun every process takes its shard and the sums are added."""
    if not hasattr(model, "enhance"):
        return []
    model.eval()
    with watch(model) as accs, torch.no_grad():
        for x, _ in DataLoader(eval_shard(dataset, ctx.dist), batch_size=ctx.batch_per_process):
            model.enhance(x.to(ctx.device))
    return results(accs, ctx)


def describe(stats: list[dict[str, float]]) -> str:
    """``mask mean 0.975 std 0.023 <0.5 0.0% <0.9 1.2%`` per stage, for the log."""
    parts = []
    for i, s in enumerate(stats):
        label = f"mask{i + 1}" if len(stats) > 1 else "mask"
        parts.append(f"{label} mean {s['mean']:.3f} std {s['std']:.3f} <0.5 {100 * s['below_0.5']:.1f}% "
                     f"<0.9 {100 * s['below_0.9']:.1f}%")
    return "; ".join(parts)

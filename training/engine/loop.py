"""Training of one stage (the classifier, or one enhancer) with per-epoch checkpoints and dev selection.

A stage's checkpoint file holds, after every epoch, the model, the optimizer, the random state, the
history and the best model on dev so far; when the stage finishes it is replaced by the selected
(best on dev) model and marked done. ``--resume`` reloads it: a finished stage is not trained again,
an unfinished one continues after its last completed epoch with the random state it had then, and,
because the data order depends only on (seed, epoch), reaches the same weights as a run that was
never interrupted.
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from training.engine import checkpoint
from training.engine.context import Context
from training.engine.distributed import train_loader
from training.engine.evaluate import accuracy
from training.engine.log import duration


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is left as it was."""


@dataclass
class StageResult:
    dev_accuracy: float
    epoch: int  # 0-based epoch of the selected model


def stops_early(history: list, best_epoch: int, patience: int | None) -> bool:
    """Whether early stopping ends a stage after the epochs of ``history``: ``patience`` epochs have passed since
    the best dev accuracy (``best_epoch``, 0-based) without a better one. ``None``: never."""
    return patience is not None and bool(history) and history[-1]["epoch"] - best_epoch >= patience


def train_stage(name: str, model: torch.nn.Module, params: list, train_set: Dataset, dev_set: Dataset,
                epochs: int, path: Path, ctx: Context, monitor=None, patience: int | None = None) -> StageResult:
    """Train ``params`` of ``model`` for ``epochs`` on ``train_set``; leave ``model`` at its best epoch on ``dev_set``.

    ``patience``: stop early once the dev accuracy has not improved for that many epochs (``epochs`` is then the
    budget); the decision is a function of the history, so a resumed stage stops where an uninterrupted one does.

    ``path``: the stage's checkpoint file (read if it exists, written by rank 0 only). ``monitor``: an optional
    :class:`training.monitor.stage_monitor.StageMonitor` (mask statistics and gradient norms per epoch).
    """
    state = checkpoint.load(path) if Path(path).exists() else None
    if state is not None and state["done"]:
        model.load_state_dict(state["model"])
        ctx.log(f"{name}: finished earlier (dev {100 * state['best']['accuracy']:.2f}% at epoch "
                f"{state['best']['epoch'] + 1}), loaded from {path}")
        if monitor:
            monitor.history(state["history"])
        return StageResult(state["best"]["accuracy"], state["best"]["epoch"])

    optimizer = torch.optim.Adam(params, lr=ctx.lr)
    best, history, start = None, [], 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        checkpoint.set_rng_state(state["rng"])
        best, history, start = state["best"], state["history"], state["epoch"] + 1
        ctx.log(f"{name}: resuming after epoch {start} of {epochs} from {path}")
    if monitor and start == 0:
        line = monitor.before_training(model, dev_set, ctx)
        if line:
            ctx.log(f"{name:>6} epoch   0/{epochs}  {line}")
    wrapped = ctx.dist.wrap(model, ctx.device)

    for epoch in range(start, epochs):
        if best is not None and stops_early(history, best["epoch"], patience):
            break
        t0 = time.perf_counter()
        loss = _train_epoch(name, wrapped, optimizer, train_set, epoch, epochs, path, ctx, monitor)
        ctx.dist.sync_buffers(model)
        with monitor.watching(model) if monitor else contextlib.nullcontext():
            dev_acc, _ = accuracy(model, dev_set, ctx)
        stats = monitor.epoch_stats(ctx) if monitor else {}
        if best is None or dev_acc > best["accuracy"]:
            best = {"accuracy": dev_acc, "epoch": epoch, "model": copy.deepcopy(model.state_dict())}
        seconds = time.perf_counter() - t0
        history.append({"epoch": epoch, "loss": loss, "dev_accuracy": dev_acc, "seconds": seconds, **stats})
        if ctx.dist.is_main:
            checkpoint.save({"stage": name, "done": False, "epoch": epoch, "model": model.state_dict(),
                             "optimizer": optimizer.state_dict(), "rng": checkpoint.rng_state(),
                             "best": best, "history": history}, path)
        ctx.dist.barrier()
        ctx.eta.done(name, seconds)
        ctx.log(f"{name:>6} epoch {epoch + 1:3d}/{epochs}  loss {loss:.4f}  dev {100 * dev_acc:6.2f}%  "
                f"(best {100 * best['accuracy']:.2f}% at {best['epoch'] + 1})  {duration(seconds)}  "
                f"remaining ~{duration(ctx.eta.remaining())}")
        if monitor:
            monitor.history(history)
            if stats:
                ctx.log(f"{name:>6} epoch {epoch + 1:3d}/{epochs}  {monitor.describe(stats)}")

    if len(history) < epochs:
        ctx.eta.skip(name, epochs - len(history))
        ctx.log(f"{name}: stopped early after epoch {len(history)} of {epochs}: no better dev accuracy for "
                f"{patience} epochs")
    model.load_state_dict(best["model"])
    if ctx.dist.is_main:
        checkpoint.save({"stage": name, "done": True, "model": best["model"],
                         "best": {"accuracy": best["accuracy"], "epoch": best["epoch"]}, "history": history}, path)
    ctx.dist.barrier()
    ctx.log(f"{name}: selected epoch {best['epoch'] + 1} (dev {100 * best['accuracy']:.2f}%)")
    return StageResult(best["accuracy"], best["epoch"])


def _train_epoch(name, model, optimizer, train_set, epoch, epochs, path, ctx: Context, monitor=None) -> float:
    """One pass over this process's shard; the mean training loss over all processes."""
    model.train()
    loader = train_loader(train_set, ctx.batch_per_process, ctx.seed, epoch, ctx.dist)
    total = count = 0.0
    bar = ctx.log.bar(loader, desc=f"{name} epoch {epoch + 1}/{epochs}", unit="batch", leave=False)
    for step, (x, y) in enumerate(bar):
        x, y = x.to(ctx.device), y.to(ctx.device)
        with ctx.autocast():
            loss = ctx.faults.corrupt_loss(F.cross_entropy(model(x), y), name)
        batch_total, batch_count = ctx.dist.sum([loss.item() * len(y), len(y)], ctx.device)
        if not math.isfinite(batch_total):
            raise TrainingDiverged(
                f"{name}: the training loss became {batch_total / batch_count} at epoch {epoch + 1}, "
                f"step {step + 1}; stopped. {_last_good(path, epoch)} Resuming with the same settings would "
                f"diverge again: start a new run with a lower --lr.")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if monitor:
            monitor.after_backward()
        optimizer.step()
        ctx.faults.step_done(name)
        total, count = total + batch_total, count + batch_count
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / count


def _last_good(path, epoch: int) -> str:
    if epoch == 0:
        return "No epoch of this stage had finished, so it has no checkpoint yet."
    return f"The last good checkpoint ({path}, after epoch {epoch}) is intact."

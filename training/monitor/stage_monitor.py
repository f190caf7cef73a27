"""Instruments of a run's training stages: mask statistics on dev and gradient norms per epoch, written to
``masks.csv`` and ``training.png`` in the run folder and to the log.

:class:`TrainingRecord` belongs to the run; :meth:`TrainingRecord.stage` gives the :class:`StageMonitor` that
``training.engine.loop.train_stage`` calls. What a monitor measures is stored in the stage's history (and so in its
checkpoint): a resumed run rewrites the same files.
"""
from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

from torch import nn
from torch.utils.data import Dataset

from training.engine.context import Context
from training.engine.files import save_text
from training.monitor import mask_stats
from training.monitor.grad_norms import GradNorms
from training.monitor.training_plot import training_plot

GRAD_GROUPS = ("generator", *(f"layer{i}" for i in range(1, 6)))
MAX_MASK_STAGES = 2


class TrainingRecord:
    def __init__(self, out: Path, is_main: bool = True):
        self.out, self.is_main = Path(out), is_main
        self.histories: dict[str, list[dict]] = {}
        self.initial: dict[str, dict] = {}  # stage -> mask statistics before its first epoch (not kept on resume)

    def stage(self, name: str, model: nn.Module) -> StageMonitor:
        return StageMonitor(self, name, model)

    def update(self, name: str, history: list[dict]) -> None:
        """Stage ``name`` has this history now: rewrite masks.csv and training.png (rank 0)."""
        self.histories[name] = list(history)
        if self.is_main:
            save_text(masks_csv(self.histories, self.initial), self.out / "masks.csv")
            training_plot(self.histories, self.out / "training.png", self.initial)


class StageMonitor:
    def __init__(self, record: TrainingRecord, name: str, model: nn.Module):
        self.record, self.name = record, name
        self.grads = GradNorms(model)

    def before_training(self, model: nn.Module, dev_set: Dataset, ctx: Context) -> str:
        """Mask statistics of the untrained stage (epoch 0 of masks.csv); the log's line ('' without masks)."""
        masks = mask_stats.mask_statistics(model, dev_set, ctx)
        if not masks:
            return ""
        self.record.initial[self.name] = {"epoch": -1, "masks": masks}
        return f"dev {mask_stats.describe(masks)} (before training)"

    def after_backward(self) -> None:
        self.grads.step()

    @contextlib.contextmanager
    def watching(self, model: nn.Module):
        """Context of the epoch's dev accuracy pass: its forward passes also give the mask statistics."""
        with mask_stats.watch(model) as accs:
            self._accs = accs
            yield

    def epoch_stats(self, ctx: Context) -> dict:
        """Extra entries of this epoch's history: ``masks`` (per mask stage, from the pass made inside
        :meth:`watching`) and ``grad`` (per group)."""
        grads = self.grads.epoch()
        masks = mask_stats.results(self._accs, ctx)
        return {"masks": masks, "grad": grads} if masks or grads else {}

    def describe(self, stats: dict) -> str:
        """The log's line for these statistics ('' for the classifier)."""
        if not stats:
            return ""
        grads = " ".join(f"{k} {v:.2g}" for k, v in stats["grad"].items())
        return f"dev {mask_stats.describe(stats['masks'])}; grad norm {grads}"

    def history(self, history: list[dict]) -> None:
        self.record.update(self.name, history)


def masks_csv(histories: dict[str, list[dict]], initial: dict[str, dict] | None = None) -> str:
    """One row per epoch of every enhancer stage (stages without masks are left out); epoch 0 = before training
    (when ``initial`` has it)."""
    mask_cols = [f"mask{i}_{f}" for i in range(1, MAX_MASK_STAGES + 1) for f in mask_stats.FIELDS]
    cols = ["stage", "epoch", "seconds", "train_loss", "dev_accuracy", *(f"grad_{g}" for g in GRAD_GROUPS),
            *mask_cols]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for stage, history in histories.items():
        first = [(initial or {})[stage]] if stage in (initial or {}) else []
        for h in first + history:
            if not h.get("masks"):
                continue
            row = {"stage": stage, "epoch": h["epoch"] + 1}
            if "loss" in h:
                row.update({"seconds": f"{h['seconds']:.1f}", "train_loss": f"{h['loss']:.5f}",
                            "dev_accuracy": f"{h['dev_accuracy']:.4f}"})
            row.update({f"grad_{g}": f"{v:.4g}" for g, v in h.get("grad", {}).items()})
            for i, s in enumerate(h["masks"]):
                row.update({f"mask{i + 1}_{f}": f"{s[f]:.5f}" for f in mask_stats.FIELDS})
            w.writerow([row.get(c, "") for c in cols])
    return buf.getvalue()

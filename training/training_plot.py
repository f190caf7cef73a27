"""training.png: per epoch of every stage, the training loss, the clean dev accuracy, the mask statistics
on dev and the gradient norms (from the stages' histories, see training/stage_monitor.py)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training.checkpoint import atomic_write  # noqa: E402


def training_plot(histories: dict[str, list[dict]], path) -> None:
    """``histories``: stage -> [{"epoch", "loss", "dev_accuracy", "masks": [stats per mask stage],
    "grad": {group: norm}}, ...] (masks / grad absent for the classifier)."""
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
    ax_loss, ax_acc, ax_mask, ax_grad = axes
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (stage, history) in enumerate(histories.items()):
        c = colours[k % len(colours)]
        epochs = [h["epoch"] + 1 for h in history]
        ax_loss.plot(epochs, [h["loss"] for h in history], "o-", color=c, label=stage)
        ax_acc.plot(epochs, [100 * h["dev_accuracy"] for h in history], "o-", color=c, label=stage)
        n_masks = max((len(h.get("masks", [])) for h in history), default=0)
        for i in range(n_masks):
            tag = f"{stage} mask{i + 1}" if n_masks > 1 else stage
            style = "-" if i == 0 else ":"
            ax_mask.plot(epochs, [h["masks"][i]["mean"] for h in history], "o" + style, color=c,
                         label=f"{tag} mean")
            ax_mask.plot(epochs, [h["masks"][i]["below_0.9"] for h in history], "s" + style, color=c, alpha=0.55,
                         label=f"{tag} fraction < 0.9")
        groups = list(history[0].get("grad", {})) if history else []
        for j, group in enumerate(groups):
            ax_grad.plot(epochs, [h["grad"][group] for h in history], ".-", color=c, alpha=0.35 + 0.65 * j / 6,
                         label=f"{stage} {group}")
    ax_loss.set(title="training loss", xlabel="epoch of the stage", ylabel="cross entropy")
    ax_acc.set(title="clean dev accuracy (fold 9)", xlabel="epoch of the stage", ylabel="%")
    ax_mask.set(title="masks on dev: mean (o) and fraction of bins < 0.9 (s)", xlabel="epoch of the stage",
                ylim=(-0.02, 1.02))
    ax_grad.set(title="gradient norm per group (RMS over steps)", xlabel="epoch of the stage", yscale="log")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)

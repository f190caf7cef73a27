"""training.png: per epoch of every stage, the training loss, the clean dev accuracy, the mask statistics
on dev and the gradient norms (from the stages' histories, see training/monitor/stage_monitor.py)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from training.engine.files import atomic_write  # noqa: E402


def training_plot(histories: dict[str, list[dict]], path, initial: dict[str, dict] | None = None) -> None:
    """``histories``: stage -> [{"epoch", "loss", "dev_accuracy", "masks": [stats per mask stage],
    "grad": {group: norm}}, ...] (masks / grad absent for the classifier); ``initial``: stage -> {"masks": ...}
    before the first epoch (plotted at epoch 0)."""
    fig, axes = plt.subplots(1, 5, figsize=(21, 3.8))
    ax_loss, ax_acc, ax_mask, ax_frac, ax_grad = axes
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (stage, history) in enumerate(histories.items()):
        c = colours[k % len(colours)]
        epochs = [h["epoch"] + 1 for h in history]
        ax_loss.plot(epochs, [h["loss"] for h in history], "o-", color=c, label=stage)
        ax_acc.plot(epochs, [100 * h["dev_accuracy"] for h in history], "o-", color=c, label=stage)
        with_masks = [h for h in history if h.get("masks")]
        if stage in (initial or {}):
            with_masks = [initial[stage]] + with_masks
        n_masks = max((len(h["masks"]) for h in with_masks), default=0)
        xs = [h["epoch"] + 1 for h in with_masks]
        for i in range(n_masks):
            tag = f"{stage} mask{i + 1}" if n_masks > 1 else stage
            style = "-" if i == 0 else ":"
            ax_mask.errorbar([x + 0.04 * i for x in xs], [h["masks"][i]["mean"] for h in with_masks],
                             yerr=[h["masks"][i]["std"] for h in with_masks], fmt="o" + style, color=c, capsize=3,
                             label=tag)
            ax_frac.plot(xs, [100 * h["masks"][i]["below_0.9"] for h in with_masks], "s" + style, color=c,
                         label=f"{tag} < 0.9")
            ax_frac.plot(xs, [100 * h["masks"][i]["below_0.5"] for h in with_masks], "v" + style, color=c,
                         alpha=0.6, label=f"{tag} < 0.5")
        groups = list(history[0].get("grad", {})) if history else []
        for j, group in enumerate(groups):
            ax_grad.plot(epochs, [h["grad"][group] for h in history], ".-", color=c, alpha=0.35 + 0.65 * j / 6,
                         label=f"{stage} {group}")
    ax_loss.set(title="training loss", xlabel="epoch of the stage", ylabel="cross entropy")
    ax_acc.set(title="clean dev accuracy (fold 9)", xlabel="epoch of the stage", ylabel="%")
    ax_mask.set(title="masks on dev: mean ± std (0 = untrained)", xlabel="epoch of the stage")
    ax_frac.set(title="masks on dev: % of bins < 0.9 (s), < 0.5 (v)", xlabel="epoch of the stage", ylabel="%")
    ax_grad.set(title="gradient norm per group (RMS over steps)", xlabel="epoch of the stage", yscale="log")
    for ax in axes:
        if ax is ax_grad and ax.get_legend_handles_labels()[0]:  # one entry per stage and group: beside the panel
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0), ncol=2)
        elif ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)

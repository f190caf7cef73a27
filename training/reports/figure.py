"""figure3.png: one test clip's Mel features clean, with 5 dB of a noise (pink by default), and enhanced."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colors  # noqa: E402
import numpy as np  # noqa: E402

from training.engine.files import atomic_write  # noqa: E402
from training.reports.paper import DISPLAY  # noqa: E402

LOG_RANGE = 1e-4  # log_scale: the colour scale's lowest value relative to the largest (40 dB of a power spectrum)


def figure3(clean: np.ndarray, noisy: np.ndarray, enhanced: dict[str, np.ndarray], path, title: str = "",
            noise: str = "+5 dB pink", masks: dict[str, np.ndarray] | None = None, log_scale: bool = False) -> None:
    """Panels (a) clean, (b) noisy, then one per enhancer in ``enhanced`` (method -> features), like the paper.

    Every array is (n_mels, n_frames); all panels share one colour scale. ``masks`` (method -> the product of
    its stages' masks on the noisy input): a second row under the enhancers' panels, on a 0..1 scale, with
    each mask's mean and fraction of bins below 0.5 (not in the paper; it shows what the enhancer does).
    ``log_scale``: draw the features on a logarithmic colour scale spanning ``LOG_RANGE`` below the largest value
    (display only: a Mel spectrum without a logarithm puts most bins near zero, so on a linear scale all but the
    lowest bands look black).
    """
    panels = [("Clean feature", clean), (f"Noisy feature ({noise})", noisy)]
    panels += [(f"{DISPLAY.get(m, m)} feature", x) for m, x in enhanced.items()]
    vmax = max(float(np.max(x)) for _, x in panels) or 1.0
    floor = vmax * LOG_RANGE
    norm = colors.LogNorm(vmin=floor, vmax=vmax) if log_scale else colors.Normalize(vmin=0.0, vmax=vmax)
    rows = 2 if masks else 1
    fig, axes = plt.subplots(rows, len(panels), figsize=(3.2 * len(panels), 3.0 * rows), sharey=True,
                             squeeze=False, layout="constrained" if masks else None)
    for i, (ax, (name, x)) in enumerate(zip(axes[0], panels)):
        image = ax.imshow(np.maximum(x, floor) if log_scale else x, origin="lower", aspect="auto", cmap="magma",
                          norm=norm)
        ax.set_title(f"({chr(ord('a') + i)}) {name}", fontsize=9)
        ax.set_xlabel("frame")
    axes[0][0].set_ylabel("Mel bin")
    bar = fig.colorbar(image, ax=axes[0].tolist(), fraction=0.02, pad=0.01)
    if log_scale:
        bar.set_label("feature (log colour scale)", fontsize=8)
    if masks:
        _mask_row(axes[1], masks, first=len(panels) - len(enhanced), fig=fig)
    if title:
        fig.suptitle(title, fontsize=10, y=1.03)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)


def _mask_row(axes, masks: dict[str, np.ndarray], first: int, fig) -> None:
    for ax in axes[:first]:
        ax.axis("off")
    image = None
    for ax, (method, m) in zip(axes[first:], masks.items()):
        image = ax.imshow(m, origin="lower", aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(f"{DISPLAY.get(method, method)} mask: mean {m.mean():.2f}, {100 * (m < 0.5).mean():.0f}% < 0.5",
                     fontsize=8)
        ax.set_xlabel("frame")
    axes[first].set_ylabel("Mel bin")
    if image is not None:
        fig.colorbar(image, ax=axes.tolist(), fraction=0.02, pad=0.01)

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

    Every array is (n_mels, n_frames); all feature panels share one colour scale. ``masks`` (method -> the product
    of its stages' masks on the noisy input; not in the paper, it shows what the enhancer does): the figure is then
    laid out for the enhancers that ran, without empty slots: a column of clean over noisy, and per enhancer a
    column of its features over its mask (0..1 scale, with the mask's mean and fraction of bins below 0.5).
    Without masks the panels form one row. ``log_scale``: draw the features on a logarithmic colour scale spanning
    ``LOG_RANGE`` below the largest value (display only: a Mel spectrum without a logarithm puts most bins near
    zero, so on a linear scale all but the lowest bands look black).
    """
    panels = [("Clean feature", clean), (f"Noisy feature ({noise})", noisy)]
    panels += [(f"{DISPLAY.get(m, m)} feature", x) for m, x in enhanced.items()]
    vmax = max(float(np.max(x)) for _, x in panels) or 1.0
    floor = vmax * LOG_RANGE
    norm = colors.LogNorm(vmin=floor, vmax=vmax) if log_scale else colors.Normalize(vmin=0.0, vmax=vmax)
    if masks:
        fig, grid, bars = _columns(len(enhanced))
        feature_axes = [grid[0][0], grid[1][0], *grid[0][1:]]
    else:
        fig, grid = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), sharey=True, squeeze=False)
        feature_axes, bars = list(grid[0]), None
    for i, (ax, (name, x)) in enumerate(zip(feature_axes, panels)):
        image = ax.imshow(np.maximum(x, floor) if log_scale else x, origin="lower", aspect="auto", cmap="magma",
                          norm=norm)
        ax.set_title(f"({chr(ord('a') + i)}) {name}", fontsize=9)
        ax.set_xlabel("frame")
    for row in grid:
        row[0].set_ylabel("Mel bin")
    if masks:
        bar = fig.colorbar(image, cax=bars[0])
        bar.ax.yaxis.set_ticks_position("left")
        bar.ax.yaxis.set_label_position("left")
        _mask_row(grid[1][1:], masks, fig, bars[1])
    else:
        bar = fig.colorbar(image, ax=feature_axes, fraction=0.02, pad=0.01)
    bar.set_label("feature (log colour scale)" if log_scale else "feature", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, y=1.03)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)


def _columns(enhancers: int):
    """The layout with masks: a column of clean over noisy, then per enhancer its features over its mask, all
    sharing the Mel axis (numbered in the first column); the features' colour bar at the left, as tall as both
    rows, and the masks' at the right of the mask row. Returns the figure, the 2 x (1 + enhancers) panels and the
    two colour bars' axes."""
    cols = 1 + enhancers
    fig = plt.figure(figsize=(3.2 * cols + 0.8, 6.0), layout="constrained")
    spec = fig.add_gridspec(2, cols + 2, width_ratios=[0.06, *[1] * cols, 0.06])
    first = fig.add_subplot(spec[0, 1])
    grid = [[first if (r, c) == (0, 0) else fig.add_subplot(spec[r, 1 + c], sharey=first) for c in range(cols)]
            for r in range(2)]
    for row in grid:
        for ax in row[1:]:
            ax.tick_params(labelleft=False)
    return fig, grid, (fig.add_subplot(spec[:, 0]), fig.add_subplot(spec[1, -1]))


def _mask_row(axes, masks: dict[str, np.ndarray], fig, cax) -> None:
    for ax, (method, m) in zip(axes, masks.items()):
        image = ax.imshow(m, origin="lower", aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(f"{DISPLAY.get(method, method)} mask: mean {m.mean():.2f}, {100 * (m < 0.5).mean():.0f}% < 0.5",
                     fontsize=8)
        ax.set_xlabel("frame")
    fig.colorbar(image, cax=cax).set_label("mask", fontsize=8)

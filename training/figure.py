"""figure3.png: one test clip's Mel features clean, with 5 dB of a noise (pink by default), and enhanced."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.checkpoint import atomic_write  # noqa: E402
from training.paper import DISPLAY  # noqa: E402


def figure3(clean: np.ndarray, noisy: np.ndarray, enhanced: dict[str, np.ndarray], path, title: str = "",
            noise: str = "+5 dB pink") -> None:
    """Panels (a) clean, (b) noisy, then one per enhancer in ``enhanced`` (method -> features), like the paper.

    Every array is (n_mels, n_frames); all panels share one colour scale.
    """
    panels = [("Clean feature", clean), (f"Noisy feature ({noise})", noisy)]
    panels += [(f"{DISPLAY.get(m, m)} feature", x) for m, x in enhanced.items()]
    vmax = max(float(np.max(x)) for _, x in panels) or 1.0
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), sharey=True, squeeze=False)
    for i, (ax, (name, x)) in enumerate(zip(axes[0], panels)):
        image = ax.imshow(x, origin="lower", aspect="auto", cmap="magma", vmin=0.0, vmax=vmax)
        ax.set_title(f"({chr(ord('a') + i)}) {name}", fontsize=9)
        ax.set_xlabel("frame")
    axes[0][0].set_ylabel("Mel bin")
    fig.colorbar(image, ax=axes[0].tolist(), fraction=0.02, pad=0.01)
    if title:
        fig.suptitle(title, fontsize=10, y=1.03)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120, bbox_inches="tight"))
    plt.close(fig)

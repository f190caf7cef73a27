"""figure3.png (training/reports/figure.py): laid out for the enhancers that ran, no empty slot, numbered Mel axes."""
import matplotlib.image
import numpy as np
import pytest

from training.reports import figure

SHAPE = (40, 248)


def _draw(tmp_path, monkeypatch, methods, masks=True):
    """figure3 of ``methods``; returns the figure (kept open) and the PNG's (height, width)."""
    rng = np.random.default_rng(0)
    clean, noisy = rng.uniform(0, 1, SHAPE), rng.uniform(0, 2, SHAPE)
    enhanced = {m: noisy * rng.uniform(0, 1, SHAPE) for m in methods}
    kept = []
    monkeypatch.setattr(figure.plt, "close", kept.append)  # keep the figure to look at it
    figure.figure3(clean, noisy, enhanced, tmp_path / "f.png",
                   masks={m: rng.uniform(0, 1, SHAPE) for m in methods} if masks else None)
    monkeypatch.undo()
    return kept[0], matplotlib.image.imread(tmp_path / "f.png").shape[:2]


@pytest.mark.parametrize("methods", [["dsl"], ["sfe", "dcl", "dsl"]])
def test_columns_of_features_over_masks_without_empty_slots(tmp_path, monkeypatch, methods):
    fig, (height, width) = _draw(tmp_path, monkeypatch, methods)
    try:
        fig.canvas.draw()
        panels = [ax for ax in fig.axes if ax.images]
        bars = [ax for ax in fig.axes if not ax.images]
        names = [{"sfe": "SFE", "dcl": "DCL", "dsl": "DSL"}[m] for m in methods]
        assert [ax.get_title().split(":")[0] for ax in panels] == (  # row by row
            ["(a) Clean feature"] + [f"({chr(ord('c') + i)}) {n} feature" for i, n in enumerate(names)] +
            ["(b) Noisy feature (+5 dB pink)"] + [f"{n} mask" for n in names])
        noisy, masks = panels[1 + len(methods)], panels[2 + len(methods):]
        assert sorted(ax.get_ylabel() for ax in bars) == ["feature", "mask"]  # only the colour bars lack a picture
        # the Mel axis is numbered on the first column and shared by every panel of the row
        assert {"0", "10", "20", "30"} <= {t.get_text() for t in noisy.get_yticklabels()}
        assert all(noisy.get_shared_y_axes().joined(noisy, ax) for ax in masks)
        # 2 rows of 1 + len(methods) panels of about the same width and height
        assert 0.9 < width / height * 2 / (1 + len(methods)) < 1.4
    finally:
        figure.plt.close(fig)


def test_without_masks_the_panels_form_one_row(tmp_path, monkeypatch):
    fig, (height, width) = _draw(tmp_path, monkeypatch, ["dsl"], masks=False)
    figure.plt.close(fig)
    assert len([ax for ax in fig.axes if ax.images]) == 3 and width > 2.5 * height

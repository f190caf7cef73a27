# Record of docs/assets/mask_starts.png (issue 14): the DSL mask (product of its two stages) of the dev-fold trials of
# docs/masks_trial.py on four dev clips. Run from the repository root after the trials:
#   python docs/masks_trial_figure.py A6:4:0.5 H6:2:1 P6:0:1 MP6:0:1
# (trial name : start shift : start scale). A record, not a tool.
import argparse, os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import audiodata, models
import models.generator as G
from training.engine import checkpoint

TRIALS = Path(os.environ.get("DYCONV_TRIALS", Path(__file__).resolve().parent.parent / "runs" / "masks" / "trials"))
CLIPS = (0, 40, 80, 120)  # dev-fold items
parser = argparse.ArgumentParser(description="Draw docs/assets/mask_starts.png from the trials of docs/masks_trial.py "
                                             "(a record of issue 14's study, not a tool).")
parser.add_argument("trials", nargs="+", metavar="NAME:SHIFT:SCALE",
                    help="a trial's name, its mask layer's start shift and start scale, e.g. A6:4:0.5")
args = parser.parse_args()
splits = audiodata.load_splits(None, seed=0, progress=False)
x = torch.stack([splits.dev[i][0] for i in CLIPS])
rows = [("dev clip\n(input)", x)]
for spec in args.trials:
    name, shift, scale = spec.split(":")
    G.MASK_START_SHIFT, G.MASK_START_SCALE = float(shift), float(scale)
    m = models.build("dsl", "small")
    m.load_state_dict(checkpoint.load(TRIALS / name / "stage.pt")["model"])
    with torch.no_grad():
        _, masks = m.eval().enhance(x)
    rows.append((f"{name} mask\nstart sigmoid({shift}+{scale}z)", masks[0] * masks[1]))
fig, axes = plt.subplots(len(rows), len(CLIPS), figsize=(3.2 * len(CLIPS), 1.9 * len(rows)), sharex=True,
                         sharey=True, layout="constrained")
for r, (title, v) in enumerate(rows):
    for j in range(len(CLIPS)):
        im = axes[r, j].imshow(v[j, 0], origin="lower", aspect="auto", vmin=0, vmax=1, cmap="magma")
        axes[r, j].set_title(f"mean {v[j, 0].mean():.2f}", fontsize=8, loc="left")
    axes[r, 0].set_ylabel(f"{title}\nMel band", fontsize=8)
for ax in axes[-1]:
    ax.set_xlabel("frame")
fig.colorbar(im, ax=axes, shrink=0.6, label="value (0..1)")
fig.suptitle("DSL masks after 6 epochs on clean (A6, H6, P6) or multi-condition (MP6) training; dev fold, 0..1 scale")
fig.savefig("docs/assets/mask_starts.png", dpi=80)

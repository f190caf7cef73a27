# Record of the dev-fold mask trials of docs/masks.md (issue 14); run as
#   python docs/masks_trial.py CODE_DIR --name A-base --gain 1 --epochs 4
# where CODE_DIR is a checkout of this repository (outputs go to /work/runs/masks/trials/NAME).
"""Dev-fold trial of a mask design (issue 14): DSL/SFE on the cached seed-0 classifier, per-epoch dev accuracy
and mask statistics. Patches models.generator's mask constants before building. Never evaluates test."""
import argparse, json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv.pop(1))  # the code tree to use
import torch
import audiodata, models
import models.generator as G
from training import checkpoint, classifier_cache
from training.context import Context
from training.log import Log
from training.loop import train_stage
from training.stage_monitor import TrainingRecord

p = argparse.ArgumentParser()
p.add_argument("--name", required=True); p.add_argument("--method", default="dsl")
p.add_argument("--shift", type=float, default=4.0); p.add_argument("--scale", type=float, default=0.5)
p.add_argument("--gain", type=float, default=1.0); p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--epochs", type=int, default=3); p.add_argument("--threads", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--train-clips", type=int, default=512)
p.add_argument("--noise", default="")
a = p.parse_args()
torch.set_num_threads(a.threads)
G.MASK_START_SHIFT, G.MASK_START_SCALE, G.MASK_AFFINE_GAIN = a.shift, a.scale, a.gain
out = Path("/work/runs/masks/trials") / a.name
out.mkdir(parents=True, exist_ok=True)
splits = audiodata.load_splits(None, seed=a.seed, progress=False)
clf_path = classifier_cache.cached_path(None, splits.fingerprint, "small", a.seed, 3, 64, 1e-3, 1)
clf = models.build("cnn-fc", "small")
clf.load_state_dict(checkpoint.load(clf_path)["model"])
log = Log(); log.to_file(out / "train.log")
log(f"trial {vars(a)}")
ctx = Context(torch.device("cpu"), 64, a.lr, a.seed, log=log)
checkpoint.seed_everything(a.seed * 10 + 4)
m = models.build(a.method, "small"); m.load_classifier(clf)
record = TrainingRecord(out)
t = time.time()
g = torch.Generator().manual_seed(123)
idx = torch.randperm(len(splits.train), generator=g)[:a.train_clips].tolist()
train = torch.utils.data.Subset(splits.train, idx)
if a.noise:
    from audiodata.train_noise import noisy_train_set
    noisy = noisy_train_set(splits, a.noise.split(","), (0.0, 20.0), 1)
    train = torch.utils.data.ConcatDataset([train, torch.utils.data.Subset(noisy, idx)])
log(f"training clips {len(train)}")
r = train_stage(a.method, m, m.trainable_parameters(), train, splits.dev, a.epochs, out / "stage.pt", ctx,
                monitor=record.stage(a.method, m))
log(f"done {time.time() - t:.0f}s selected epoch {r.epoch + 1} dev {100 * r.dev_accuracy:.2f}")

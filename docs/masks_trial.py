# Record of the dev-fold mask trials of docs/masks.md (issue 14); run from the repository root as
#   python docs/masks_trial.py --name A --epochs 6
# (outputs go to $DYCONV_TRIALS or runs/masks/trials/NAME under the repository root). A record, not a tool.
"""Dev-fold trial of a mask design (issue 14): an enhancer on the cached seed-0 CNN-FC, per epoch the clean dev
accuracy, the mask statistics on dev, and the accuracy on dev mixed with the *training* noises (white, brown,
violet, hum, clicks, crowd; never a test noise) at 10, 5 and 0 dB. Patches models.generator's mask constants
before building. Never evaluates the test fold."""
import argparse, json, os, sys, time
from types import SimpleNamespace
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
import torch
from torch.utils.data import Subset
import audiodata, models
import models.generator as G
from audiodata.datasets import FeatureDataset
from audiodata.features import features_from_waveform
from audiodata.config import FEATURES
from audiodata.mixing import mix_at_snr, noise_segment
from audiodata.train_noise import TRAIN_NOISE_TYPES, train_noise_recording
from training import classifier_cache, multi_condition
from training.engine import checkpoint
from training.engine.context import Context
from training.engine.evaluate import accuracy
from training.engine.log import Log
from training.engine.loop import train_stage
from training.monitor.stage_monitor import StageMonitor, TrainingRecord

p = argparse.ArgumentParser()
p.add_argument("--name", required=True); p.add_argument("--method", default="dsl")
p.add_argument("--shift", type=float, default=G.MASK_START_SHIFT); p.add_argument("--scale", type=float, default=G.MASK_START_SCALE)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--epochs", type=int, default=6); p.add_argument("--seed", type=int, default=0)
p.add_argument("--train-clips", type=int, default=0, help="0 = all")
p.add_argument("--train-noise", default="", help="multi-condition: 'all' or names; half the clips noisy")
a = p.parse_args()
G.MASK_START_SHIFT, G.MASK_START_SCALE = a.shift, a.scale
out = Path(os.environ.get("DYCONV_TRIALS", Path(__file__).resolve().parent.parent / "runs" / "masks" / "trials")) / a.name
out.mkdir(parents=True, exist_ok=True)
splits = audiodata.load_splits(None, seed=a.seed, progress=False)
log = Log(); log.to_file(out / "train.log")
log(f"trial {vars(a)}")


def noisy_dev(snr):
    """Dev (fold 9) clips mixed with one training noise each (seeded per clip), cached in the trials folder."""
    path = out.parent / f"noisy-dev-{splits.fingerprint[:12]}-{snr:g}dB.npy"
    if path.is_file():
        return FeatureDataset(np.load(path), splits.dev.labels.numpy())
    dev_clips = audiodata.load_splits(None, seed=a.seed, test_fold=9, dev_fold=8, progress=False).test_clips
    assert [c.name for c in dev_clips] == list(splits.dev.names), "dev clips differ"
    recs = {n: train_noise_recording(n) for n in TRAIN_NOISE_TYPES}
    feats = []
    for i, clip in enumerate(dev_clips):
        rng = np.random.default_rng([4242, i, int(snr * 10)])
        name = TRAIN_NOISE_TYPES[int(rng.integers(len(TRAIN_NOISE_TYPES)))]
        wave = clip.waveform(FEATURES.sample_rate)
        seg = noise_segment(recs[name], wave.shape[0], rng, part="train")
        feats.append(features_from_waveform(mix_at_snr(wave, seg, snr), FEATURES.sample_rate))
    feats = np.stack(feats).astype(np.float32)
    np.save(path, feats)
    return FeatureDataset(feats, splits.dev.labels.numpy())


NOISY_SNRS = (10.0, 5.0, 0.0)
noisy = {snr: noisy_dev(snr) for snr in NOISY_SNRS}


class TrialMonitor(StageMonitor):
    """The product's monitor plus the noisy-dev accuracies per epoch."""

    def __init__(self, record, name, model):
        super().__init__(record, name, model)
        self.model = model

    def epoch_stats(self, ctx):
        stats = super().epoch_stats(ctx)
        stats["noisy_dev"] = {f"{s:g}": accuracy(self.model, d, ctx)[0] for s, d in noisy.items()}
        log(f"   noisy dev (training noises) " + " ".join(f"{k} dB {100 * v:.1f}" for k, v in stats["noisy_dev"].items()))
        return stats


clf_path = classifier_cache.cached_path(None, splits.fingerprint, "small", a.seed, 3, 64, 1e-3, 1)
clf = models.build("cnn-fc", "small")
clf.load_state_dict(checkpoint.load(clf_path)["model"])
ctx = Context(torch.device("cpu"), 64, a.lr, a.seed, log=log)
log("cnn-fc: dev %.1f, noisy dev %s" % (100 * accuracy(clf, splits.dev, ctx)[0],
    " ".join(f"{s:g} dB {100 * accuracy(clf, d, ctx)[0]:.1f}" for s, d in noisy.items())))
checkpoint.seed_everything(a.seed * 10 + 4)
m = models.build(a.method, "small"); m.load_classifier(clf)
record = TrainingRecord(out)
train = splits.train
if a.train_clips:
    g = torch.Generator().manual_seed(123)
    train = Subset(train, torch.randperm(len(train), generator=g)[:a.train_clips].tolist())
if a.train_noise:  # the product's multi-condition set (half the clips noisy, drawn with the seed)
    names = TRAIN_NOISE_TYPES if a.train_noise == "all" else tuple(a.train_noise.split(","))
    opts = SimpleNamespace(train_noise=names, train_snr=(0.0, 20.0), train_noise_classifier=False, cache_dir=None,
                           workers=2)
    train = multi_condition.training_set(splits, opts, a.method, a.seed, progress=False)
log(f"training clips {len(train)}")
t = time.time()
r = train_stage(a.method, m, m.trainable_parameters(), train, splits.dev, a.epochs, out / "stage.pt", ctx,
                monitor=TrialMonitor(record, a.method, m))
hist = checkpoint.load(out / "stage.pt")["history"]
summary = [{"epoch": h["epoch"] + 1, "loss": h["loss"], "dev": h["dev_accuracy"], "noisy_dev": h["noisy_dev"],
            "mask1": h["masks"][0]} for h in hist]
(out / "summary.json").write_text(json.dumps(summary, indent=1))
log(f"done {time.time() - t:.0f}s selected epoch {r.epoch + 1} dev {100 * r.dev_accuracy:.2f}")

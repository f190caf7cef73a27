"""Running the calibration of the data readings (issue 21; the rule: training/calibration_rule.py and
docs/readings.md): per reading and seed, the CNN-FC classifier exactly as train.py trains it (the same seeds,
checkpoint and classifier cache: a later train.py run with that reading reuses it), evaluated on the dev fold
clean and mixed with every built-in training noise at the five SNRs. The test fold is never loaded into a
model and no test noise is mixed."""
from __future__ import annotations

import json
import time
from pathlib import Path

import audiodata
import models
import torch
from audiodata.train_noise import TRAIN_NOISE_TYPES

from training import calibration_rule, options
from training.engine import checkpoint, files
from training.engine.context import Context
from training.engine.evaluate import accuracy
from training.engine.log import Log, duration
from training.monitor.stage_monitor import TrainingRecord
from training.plan import Part, Unit


def reading_name(features: str, reference: str) -> str:
    return f"{features} / {reference}"


def dev_rows(model, splits, ctx: Context, log: Log) -> list[dict]:
    """Accuracy rows of ``model`` on clean dev and on dev mixed with each training noise at each SNR."""
    grid = [("clean", None)] + [(n, s) for s in audiodata.SNRS_DB for n in TRAIN_NOISE_TYPES]
    rows = []
    for noise, snr in log.bar(grid, desc="noisy dev", unit="set", leave=False):
        data = splits.dev if noise == "clean" else splits.noisy_dev(noise, snr)
        acc, n = accuracy(model, data, ctx)
        rows.append({"noise": noise, "snr_db": snr, "accuracy": acc, "n": n})
    return rows


def run_one(features: str, reference: str, seed: int, data_seed: int, out: Path, argv_extra: list[str],
            log: Log) -> list[dict]:
    """The rows of one (reading, seed): read back from ``out`` when done earlier."""
    folder = out / f"{features}-{reference}" / f"seed{seed}"
    done = folder / "rows.json"
    if done.exists():
        return json.loads(done.read_text())
    opts = options.parse(["--method", "cnn-fc", "--features", features, "--snr-reference", reference,
                          "--seed", str(seed), *argv_extra])
    splits = audiodata.load_splits(opts.data_root, noise_dir=opts.noise_dir, cache_dir=opts.cache_dir, seed=seed,
                                   data_seed=data_seed, clips_per_class=opts.clips_per_class, workers=opts.workers,
                                   features=features, snr_reference=reference)
    ctx = Context(torch.device(opts.device), opts.batch_size, opts.lr, seed, log=log)
    build = lambda name: models.build(name, opts.config, len(splits.class_names), audiodata.FEATURES.n_mels)  # noqa
    from training.protocol import train_classifier  # the protocol's own classifier stage

    unit = Unit(Part(10, seed, folder), "train", "cnn-fc", folder / "cnn-fc.pt", None)
    model = train_classifier(build, splits, unit, opts, ctx, TrainingRecord(folder, True))
    rows = [{"features": features, "snr_reference": reference, "seed": seed, **r}
            for r in dev_rows(model, splits, ctx, log)]
    checkpoint.save_json(rows, done)
    return rows


def calibrate(readings: list[tuple[str, str]], seeds: list[int], out: Path, argv_extra: list[str], log: Log) -> str:
    """Run every (reading, seed), write rows.csv, calibration.md and choice.json to ``out``; returns the table."""
    per_seed, clean, all_rows = {}, {}, []
    for features, reference in readings:
        name = reading_name(features, reference)
        for seed in seeds:
            t0 = time.perf_counter()
            rows = run_one(features, reference, seed, seeds[0], out, argv_extra, log)
            all_rows += rows
            drop = calibration_rule.drops(rows)
            per_seed.setdefault(name, []).append(drop)
            clean.setdefault(name, []).append(next(r["accuracy"] for r in rows if r["noise"] == "clean"))
            log(f"{name}, seed {seed}: clean dev {100 * clean[name][-1]:.1f}%, drop " +
                " ".join(f"{s:g} dB {drop[float(s)]:.1f}" for s in audiodata.SNRS_DB) +
                f"; distance {calibration_rule.distance(drop):.2f}  ({duration(time.perf_counter() - t0)})")
    summary = calibration_rule.summarize(per_seed)
    text = calibration_rule.table(summary, clean)
    from training.reports import results
    files.save_text(results.dict_csv(all_rows), out / "rows.csv")
    files.save_text(text + "\n", out / "calibration.md")
    checkpoint.save_json({"chosen": summary[0]["reading"], "summary": [
        {**e, "drop_mean": {f"{k:g}": v for k, v in e["drop_mean"].items()},
         "drop_std": {f"{k:g}": v for k, v in e["drop_std"].items()}} for e in summary]}, out / "choice.json")
    return text

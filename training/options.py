"""Command line of experiments/train.py: flags, defaults, and checks of the values a user gives."""
from __future__ import annotations

import argparse
import math
import os
import textwrap
from dataclasses import dataclass

import torch

from training.arguments import ArgumentParser
from training.errors import UsageError
from training.reports.paper import METHODS

PAPER_EPOCHS = 100  # paper §4: 100 epochs, batch 64, Adam, lr 0.001
# --config small: chosen so that the default CPU run of one method (classifier + enhancer + the evaluation)
# takes minutes on 2 cores (DSL from an empty cache: 6 min 48 s, README); the enhancer stages were first given 6
# epochs because the mask starts at sigmoid(LN(.)) ~ 0.5 and needs about four to recover the classifier's dev
# accuracy (docs/masks.md), then up to 10 with early stopping (below).
SMALL_CLASSIFIER_EPOCHS = 3
# each enhancer stage: at most SMALL_ENHANCER_EPOCHS, stopped early when dev accuracy has not improved for
# SMALL_PATIENCE epochs (dev accuracy was still rising at epoch 6 in 8 of the 12 enhancer stages of the issue-14
# study; issue 21). The paper's config trains its 100 epochs without early stopping unless --patience is given.
SMALL_ENHANCER_EPOCHS = 10
SMALL_PATIENCE = 3


@dataclass(frozen=True)
class Options:
    method: str
    methods: tuple[str, ...]  # the enhancers to train ("all" -> every one)
    data_root: str | None
    noise_dir: str | None
    config: str
    config_reason: str
    classifier_epochs: int
    enhancer_epochs: int
    batch_size: int
    lr: float
    seed: int
    device: str
    out: str | None
    resume: bool
    cache_dir: str | None
    clips_per_class: int | None
    workers: int
    amp: bool = False  # --amp: bfloat16 autocast around the training forward passes
    # the protocol's repetitions and the noises evaluated (training/plan.py)
    protocol: str = "paper"
    seeds: tuple[int, ...] = (0,)  # --seeds, or (--seed,)
    noises: tuple[str, ...] | str | None = None  # None: every noise found; "paper": the paper's seven
    figure_noise: str | None = None  # None: pink when used, else the first noise
    # multi-condition training (issue 14; off by default): see training/multi_condition.py
    train_noise: tuple[str, ...] = ()
    train_snr: tuple[float, float] = (0.0, 20.0)
    train_noise_classifier: bool = False
    # the data readings (issue 21, audiodata.readings): feature reading and what a noisy clip's SNR is measured over
    features: str = "logmel"
    snr_reference: str = "clip"
    patience: int | None = None  # enhancer stages: stop after this many epochs without a better dev accuracy
    data_seed: int | None = None  # synthetic set: the seed of its clips (None: the first seed)
    dfe_from: str | None = None  # --dfe-from: a finished DFE run whose stage DCL takes as its stage 1
    verbose: bool = False  # --verbose: setup details on the terminal too (always in train.log)


def parser(prog: str = "train.py") -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=prog,
        description=textwrap.fill(
        "Train and evaluate the paper's systems (CNN-FC, SFE, DFE, DCL, DSL) with its protocol: "
        "the CNN-FC classifier on folds 1-8 (selected on fold 9, then frozen; reused from the cache when one "
        "was trained with the same data, config and seed), the enhancer on top of it with cross entropy "
        "(selected on fold 9), evaluation on fold 10 clean and mixed with unseen noises at 20, 15, 10, 5, 0 dB; "
        "--protocol cv10 repeats it over the ten folds, --seeds over seeds. Writes results.csv, table1.md, "
        "table2.md, figure3.png, robustness.png, mixtures.csv (summary.md with several folds or seeds), "
        "config.json, train.log, checkpoints/ and models/ to --out. Under torchrun it trains with "
        "DistributedDataParallel.", 79),
        epilog="examples:\n"
        "  python experiments/train.py --method dsl                  # the main job, built-in data\n"
        "  python experiments/train.py --method all --data-root ~/UrbanSound8K --noise-dir ~/noisex92\n"
        "  python experiments/train.py --method dsl --out runs/x --resume   # continue an interrupted run\n"
        "  python experiments/train.py --method dfe --seeds 0,1,2          # three seeds, mean ± std, summary.md\n"
        "  python experiments/train.py --method dsl --protocol cv10 --data-root ~/UrbanSound8K\n"
        "  python experiments/train.py --method dsl --noise-dir ~/noisex92 --noises paper\n"
        "  torchrun --nproc_per_node=2 experiments/train.py --method dsl    # DistributedDataParallel\n"
        "exit codes: 0 done, 1 training diverged (NaN/inf loss), 2 usage error, 130 interrupted",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, choices=[*METHODS, "all"],
                   help="system to train; every run also trains (or reuses) and evaluates the CNN-FC classifier; "
                   "dcl trains dfe first as its stage 1; all = every system, both tables with five rows")
    p.add_argument("--data-root", metavar="PATH",
                   help="UrbanSound8K root (the UrbanSound8K folder or its parent); omitted = the built-in "
                   "synthetic set")
    p.add_argument("--noise-dir", metavar="PATH",
                   help="folder of real noise recordings: every audio file in it (.wav, .flac, ... in any case, "
                   "or NOISEX-92's .mat files) is one noise, named by its file stem lower-cased (Babble.wav -> "
                   "babble); --noises picks some; omitted = the built-in stand-ins for the paper's seven")
    p.add_argument("--config", choices=["paper", "small"],
                   help="model widths: the paper's, or fewer channels with the same structure; default: paper on "
                   "a GPU, small on a CPU")
    p.add_argument("--epochs", type=int, metavar="N",
                   help=f"epochs of every training stage; default: {PAPER_EPOCHS} with --config paper (the "
                   f"paper's); with --config small {SMALL_CLASSIFIER_EPOCHS} for the classifier and "
                   f"{SMALL_ENHANCER_EPOCHS} for each enhancer stage")
    p.add_argument("--patience", type=int, metavar="N",
                   help="early stopping of each enhancer stage: stop once the dev accuracy has not improved for N "
                   "epochs (the model of the best dev epoch is kept; --epochs is then the budget); 0 = off; default: "
                   f"{SMALL_PATIENCE} with --config small, off with --config paper (its 100 epochs)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N",
                   help="batch size, over all processes under torchrun (must divide by their number); "
                   "default 64, the paper's")
    p.add_argument("--lr", type=float, default=1e-3, metavar="X",
                   help="Adam learning rate; default 0.001, the paper's")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the synthetic data, the noise offsets, the initial weights and the data order; "
                   "default 0")
    _protocol_arguments(p)
    _reading_arguments(p)
    p.add_argument("--device", choices=["cpu", "cuda"],
                   help="where to train; default: cuda when a GPU is available, else cpu")
    p.add_argument("--out", metavar="DIR",
                   help="output folder; must be new or empty unless --resume; default: runs/<method>-<timestamp>/")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in --out from its last checkpoint (same settings required)")
    p.add_argument("--dfe-from", metavar="RUN_DIR",
                   help="--method dcl only: take stage 1 (the DFE stage, and the classifier) from the finished DFE "
                   "run in RUN_DIR, trained with the same settings, instead of training it again; the result is "
                   "identical to training it here (experiments/study.py uses this)")
    p.add_argument("--cache-dir", metavar="PATH",
                   help="cache of extracted features and of trained classifiers; default: $DYCONV_CACHE or "
                   "~/.cache/dyconv")
    p.add_argument("--clips-per-class", type=int, metavar="N",
                   help="synthetic set only: clips per class in each fold (default: the data package's size); "
                   "small values make quick trial runs")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="processes for feature extraction; default 2")
    p.add_argument("--amp", action="store_true",
                   help="mixed precision: the training forward passes run under torch.autocast with bfloat16 (CPU "
                   "and CUDA; no GradScaler needed). The dyconv ops compute in float32 on a CPU and in bfloat16 "
                   "with float32 accumulation on a GPU; evaluation stays float32. Default off")
    p.add_argument("--verbose", action="store_true",
                   help="also print setup details on the terminal (how the process's memory allocator was set "
                   "up); they are always in train.log")
    _multi_condition_flags(p)
    return p


def _reading_arguments(p: argparse.ArgumentParser) -> None:
    from audiodata.readings import DEFAULT_FEATURES, DEFAULT_SNR_REFERENCE, FEATURE_READINGS, MEL, SNR_REFERENCES
    p.add_argument("--features", choices=["mel", *FEATURE_READINGS],
                   help="feature reading (docs/readings.md): logmel = 20*log10 relative to the clip maximum, 80 dB "
                   "floor, then min-max; mel-magnitude / mel-power = the Mel filterbank output of |STFT| / |STFT|^2 "
                   f"min-max normalized, no logarithm (the paper's words); mel = {MEL}, the calibration's choice; "
                   f"default {DEFAULT_FEATURES} (the calibration's choice)")
    p.add_argument("--snr-reference", choices=SNR_REFERENCES,
                   help="what a noisy test clip's SNR is measured over: clip = its own unpadded samples (noise added to "
                   "them only), segment = the 4 s zero-padded segment (noise over all of it); default "
                   f"{DEFAULT_SNR_REFERENCE}")


def _multi_condition_flags(p: argparse.ArgumentParser) -> None:
    from audiodata.train_noise import TRAIN_NOISE_TYPES
    p.add_argument("--train-noise", metavar="NAMES",
                   help="multi-condition training (our extension; the paper trains on clean clips only): also train "
                   "the enhancer on training clips of which half (a seeded draw) are replaced by a noisy copy, "
                   "mixed with one of these comma-separated "
                   f"built-in noises ({','.join(TRAIN_NOISE_TYPES)}, or 'all'); none of them is a test noise, and a "
                   "test noise name is refused; default: off")
    p.add_argument("--train-snr", metavar="LOW,HIGH", default="0,20",
                   help="with --train-noise: SNR of each noisy copy, drawn uniformly from LOW..HIGH dB "
                   "(a negative LOW: --train-snr=-5,10); default 0,20")
    p.add_argument("--train-noise-classifier", action="store_true",
                   help="with --train-noise: train the CNN-FC classifier on the noisy copies too (default: the "
                   "classifier is trained on clean clips only)")


def _multi_condition(a) -> dict:
    """The checked multi-condition settings of the parsed flags ``a``."""
    from audiodata.config import NOISE_TYPES
    from audiodata.train_noise import TRAIN_NOISE_TYPES, check_snr_range, check_train_noises
    if a.train_noise is None:
        if a.train_noise_classifier or a.train_snr != "0,20":
            raise UsageError("--train-snr and --train-noise-classifier need --train-noise NAMES")
        return {}
    names = TRAIN_NOISE_TYPES if a.train_noise.strip() == "all" else tuple(
        n.strip() for n in a.train_noise.split(",") if n.strip())
    test_noises = set(NOISE_TYPES)
    if a.noise_dir is not None and os.path.isdir(a.noise_dir):
        test_noises |= {os.path.splitext(f)[0].lower() for f in os.listdir(a.noise_dir)}
    try:
        names = check_train_noises(names, tuple(sorted(test_noises)))
        parts = a.train_snr.split(",")
        if len(parts) != 2:
            raise ValueError(f"--train-snr: expected LOW,HIGH in dB (e.g. 0,20), got {a.train_snr!r}")
        snr = check_snr_range(parts)
    except ValueError as e:
        raise UsageError(f"--train-noise: {e}" if "--train-snr" not in str(e) else str(e)) from None
    return {"train_noise": names, "train_snr": snr, "train_noise_classifier": a.train_noise_classifier}


def parse(argv=None, cuda_available: bool | None = None, world_size: int | None = None) -> Options:
    """Parse and check the command line; user mistakes raise :class:`UsageError`."""
    a = parser().parse_args(argv)
    cuda_available = torch.cuda.is_available() if cuda_available is None else cuda_available
    world_size = int(os.environ.get("WORLD_SIZE", "1")) if world_size is None else world_size

    if a.device == "cuda" and not cuda_available:
        raise UsageError("--device cuda: no CUDA GPU is available to this torch; use --device cpu")
    device = a.device or ("cuda" if cuda_available else "cpu")
    if a.config:
        config, reason = a.config, "chosen with --config"
    else:
        config = "paper" if device == "cuda" else "small"
        reason = ("default on a GPU; --config small for fewer channels" if device == "cuda" else
                  "default on a CPU; --config paper for the paper's widths")
    if a.epochs is not None:
        _positive("--epochs", a.epochs)
        epochs = (a.epochs, a.epochs)
    else:
        epochs = (PAPER_EPOCHS, PAPER_EPOCHS) if config == "paper" else (SMALL_CLASSIFIER_EPOCHS,
                                                                          SMALL_ENHANCER_EPOCHS)
    _positive("--batch-size", a.batch_size)
    _positive("--workers", a.workers)
    if a.batch_size % world_size:
        raise UsageError(f"--batch-size must divide by the number of processes ({world_size}), got {a.batch_size}")
    if not (math.isfinite(a.lr) and a.lr > 0):
        raise UsageError(f"--lr must be a positive number, got {a.lr}")
    if a.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {a.seed}")
    if a.seeds is not None and a.seed != 0:
        raise UsageError("--seed and --seeds: give one of them (--seeds N is the same as --seed N)")
    for flag, path in (("--data-root", a.data_root), ("--noise-dir", a.noise_dir)):
        if path is not None and not os.path.isdir(path):
            raise UsageError(f"{flag}: {path} is not a folder")
    if a.clips_per_class is not None:
        if a.data_root is not None:
            raise UsageError("--clips-per-class applies to the built-in synthetic set only, not with --data-root")
        _positive("--clips-per-class", a.clips_per_class)
    if a.resume and a.out is None:
        raise UsageError("--resume needs --out DIR, the folder of the run to continue")
    multi_condition = _multi_condition(a)
    from audiodata.readings import feature_reading, snr_reference
    if a.patience is not None and a.patience < 0:
        raise UsageError(f"--patience must be >= 0 (0 = no early stopping), got {a.patience}")
    patience = (a.patience or None) if a.patience is not None else (SMALL_PATIENCE if config == "small" else None)

    protocol = _protocol_options(a)
    return Options(
        method=a.method, methods=tuple(METHODS[1:]) if a.method == "all" else
        (() if a.method == "cnn-fc" else (a.method,)),
        data_root=_abs(a.data_root), noise_dir=_abs(a.noise_dir), config=config, config_reason=reason,
        classifier_epochs=epochs[0], enhancer_epochs=epochs[1], batch_size=a.batch_size, lr=a.lr,
        seed=protocol["seeds"][0],
        device=device, out=a.out, resume=a.resume, cache_dir=_abs(a.cache_dir), clips_per_class=a.clips_per_class,
        workers=a.workers, amp=a.amp, **protocol, **multi_condition, features=feature_reading(a.features),
        snr_reference=snr_reference(a.snr_reference), patience=patience, dfe_from=_abs(a.dfe_from),
        verbose=a.verbose)


def _protocol_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of the protocol's repetitions (folds, seeds) and of the noises evaluated."""
    p.add_argument("--protocol", choices=["paper", "cv10"], default="paper",
                   help="paper (default): train on folds 1-8, select on fold 9, test on fold 10; cv10: the "
                   "dataset's 10-fold cross-validation, the whole protocol once per test fold k = 1..10 (dev "
                   "fold k-1, fold 10 for k = 1, train on the other eight), tables as mean ± std over folds")
    p.add_argument("--seeds", metavar="N,N,...",
                   help="repeat the run per seed (data order, initial weights, noise offsets; the synthetic set "
                   "keeps the first seed's clips so all seeds see the same data) and report mean ± std per cell "
                   "and summary.md (each enhancer against CNN-FC, paired, 95%% interval); replaces --seed")
    p.add_argument("--data-seed", type=int, metavar="N",
                   help="synthetic set only: the seed of its clips (default: the first of --seeds, or --seed); "
                   "`--seed 1 --data-seed 0` is the seed-1 part of `--seeds 0,1,2`, so seeds can run as separate "
                   "processes and be summarised with experiments/summarize_seeds.py")
    p.add_argument("--noises", metavar="NAME,NAME,...|paper",
                   help="the noises to evaluate, in this order (names are file stems in --noise-dir, any case); "
                   "paper = the paper's seven resolved against the folder; default: every noise found "
                   "(the seven built-in ones without --noise-dir)")
    p.add_argument("--figure-noise", metavar="NAME",
                   help="the noise of figure3.png (at 5 dB); default: pink when it is evaluated, else the first noise")


def _protocol_options(a) -> dict:
    if a.seeds is not None:
        try:
            seeds = tuple(int(s) for s in a.seeds.split(","))
        except ValueError:
            raise UsageError(f"--seeds: expected seeds separated by commas like 0,1,2, got {a.seeds!r}") from None
        if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise UsageError(f"--seeds: expected distinct seeds >= 0, got {a.seeds!r}")
    else:
        seeds = (a.seed,)
    noises = None
    if a.noises is not None:
        names = [n.strip().lower() for n in a.noises.split(",")]
        if not all(names) or len(set(names)) != len(names):
            raise UsageError(f"--noises: expected distinct names separated by commas, got {a.noises!r}")
        noises = "paper" if names == ["paper"] else tuple(names)
    figure = None if a.figure_noise is None else a.figure_noise.strip().lower()
    if a.data_seed is not None:
        if a.data_seed < 0:
            raise UsageError(f"--data-seed must be >= 0, got {a.data_seed}")
        if a.data_root is not None:
            raise UsageError("--data-seed applies to the built-in synthetic set only, not with --data-root")
    return {"protocol": a.protocol, "seeds": seeds, "noises": noises, "figure_noise": figure, "data_seed": a.data_seed}


def epochs_of(opts: Options, stage: str) -> int:
    return opts.classifier_epochs if stage == "cnn-fc" else opts.enhancer_epochs


def patience_of(opts: Options, stage: str) -> int | None:
    """Early-stopping patience of ``stage``: the enhancer stages only (the classifier trains its fixed epochs,
    which the classifier cache key names)."""
    return None if stage == "cnn-fc" else opts.patience


def _positive(flag: str, value: int) -> None:
    if value < 1:
        raise UsageError(f"{flag} must be >= 1, got {value}")


def _abs(path):
    return None if path is None else os.path.abspath(path)

"""python -m audiodata: extract (or check) the feature cache of a dataset and its noisy test sets."""
import argparse
import logging
import sys
import time

from . import SNRS_DB, load_splits
from .readings import DEFAULT_FEATURES, DEFAULT_SNR_REFERENCE, FEATURE_READINGS, MEL, SNR_REFERENCES


def _mb(n_bytes):
    return f"{n_bytes / 1e6:.0f} MB"


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m audiodata",
        description="Extract the paper's 40x248 Mel features (the reading --features names) of a dataset into the feature cache "
                    "(clean folds 1-10, then the test fold mixed with every noise at every SNR) and print a "
                    "summary. A second run finds everything cached and returns at once.")
    p.add_argument("--data-root", default=None,
                   help="UrbanSound8K folder (or its parent); default: the built-in synthetic set")
    p.add_argument("--noise-dir", default=None,
                   help="folder of noise recordings: every audio file (.wav, .flac, ... in any case) or MATLAB "
                        ".mat file in it, named by its stem lower-cased (NOISEX-92 as distributed works); "
                        "default: the built-in generated noises")
    p.add_argument("--noises", default=None,
                   help="comma-separated noise names to use, in order (case-insensitive; 'paper' = the paper's "
                        "seven, destroyer = destroyerengine); default: every noise in --noise-dir, or the seven "
                        "built-in ones")
    p.add_argument("--cache-dir", default=None, help="feature cache; default: $DYCONV_CACHE or ~/.cache/dyconv")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the noise offsets, and of the synthetic set unless --data-seed is given")
    p.add_argument("--data-seed", type=int, default=None, help="synthetic set only: its seed (default: --seed)")
    p.add_argument("--test-fold", type=int, default=10, help="test fold 1-10 (default 10, the paper's)")
    p.add_argument("--dev-fold", type=int, default=None,
                   help="dev fold (default: the test fold - 1, 10 for test fold 1); train = the other eight")
    p.add_argument("--clips-per-class", type=int, default=None,
                   help="synthetic set only: clips per class per fold (default: the package default)")
    p.add_argument("--workers", type=int, default=2, help="extraction processes (default 2)")
    p.add_argument("--features", default=None, choices=["mel", *FEATURE_READINGS],
                   help=f"feature reading: logmel (20*log10, 80 dB floor, then min-max), mel-magnitude / mel-power "
                        f"(the Mel filterbank output of |STFT| / |STFT|^2, min-max, no logarithm: the paper's words), "
                        f"mel (= {MEL}, the calibration's choice, docs/readings.md); default {DEFAULT_FEATURES}")
    p.add_argument("--snr-reference", default=None, choices=SNR_REFERENCES,
                   help="what a noisy clip's SNR is measured over: clip (its own unpadded samples; the noise is added "
                        "to them only) or segment (the 4 s zero-padded segment, noise over all of it); default "
                        f"{DEFAULT_SNR_REFERENCE}")
    p.add_argument("--dev-noisy", action="store_true",
                   help="also extract the dev fold mixed with the built-in training noises at every SNR (the sets "
                        "the calibration of docs/readings.md evaluates on)")
    p.add_argument("--clean-only", action="store_true", help="skip the noisy test sets")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        t0 = time.perf_counter()
        splits = load_splits(args.data_root, noise_dir=args.noise_dir, noises=args.noises, cache_dir=args.cache_dir,
                             seed=args.seed, data_seed=args.data_seed, test_fold=args.test_fold,
                             dev_fold=args.dev_fold, clips_per_class=args.clips_per_class, workers=args.workers,
                             features=args.features, snr_reference=args.snr_reference)
        t1 = time.perf_counter()
        print(splits.describe())
        print(f"clean features: {t1 - t0:.1f} s; fingerprint {splits.fingerprint}; "
              f"{_mb((splits.cache_folder / 'clean.npz').stat().st_size)} on disk")
        if not args.clean_only:
            for name in splits.noise_names:
                for snr in SNRS_DB:
                    splits.noisy_test(name, snr)
            print(f"noisy test sets: {len(splits.noise_names)} noises x {len(SNRS_DB)} SNRs, "
                  f"{time.perf_counter() - t1:.1f} s; {_mb(splits.noisy_bytes())} on disk for test fold "
                  f"{splits.test_fold}, seed {splits.seed}")
        if args.dev_noisy:
            from .train_noise import TRAIN_NOISE_TYPES
            t2 = time.perf_counter()
            for name in TRAIN_NOISE_TYPES:
                for snr in SNRS_DB:
                    splits.noisy_dev(name, snr)
            print(f"noisy dev sets (training noises): {len(TRAIN_NOISE_TYPES)} noises x {len(SNRS_DB)} SNRs, "
                  f"{time.perf_counter() - t2:.1f} s")
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

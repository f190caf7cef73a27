"""python -m audiodata: extract (or check) the feature cache of a dataset and its noisy test sets."""
import argparse
import logging
import sys
import time

from . import SNRS_DB, load_splits


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m audiodata",
        description="Extract the paper's 40x248 log-Mel features of a dataset into the feature cache "
                    "(clean folds 1-10, then fold 10 mixed with every noise at every SNR) and print a "
                    "summary. A second run finds everything cached and returns at once.")
    p.add_argument("--data-root", default=None,
                   help="UrbanSound8K folder (or its parent); default: the built-in synthetic set")
    p.add_argument("--noise-dir", default=None,
                   help="folder of noise recordings, one audio file per noise type named by it "
                        "(babble.wav, f16.wav, ...); default: the built-in generated noises")
    p.add_argument("--cache-dir", default=None, help="feature cache; default: $DYCONV_CACHE or ~/.cache/dyconv")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic set and of the noise offsets")
    p.add_argument("--clips-per-class", type=int, default=None,
                   help="synthetic set only: clips per class per fold (default: the package default)")
    p.add_argument("--workers", type=int, default=2, help="extraction processes (default 2)")
    p.add_argument("--clean-only", action="store_true", help="skip the noisy test sets")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        t0 = time.perf_counter()
        splits = load_splits(args.data_root, noise_dir=args.noise_dir, cache_dir=args.cache_dir, seed=args.seed,
                             clips_per_class=args.clips_per_class, workers=args.workers)
        t1 = time.perf_counter()
        print(splits.describe())
        print(f"clean features: {t1 - t0:.1f} s; fingerprint {splits.fingerprint}")
        if not args.clean_only:
            names = splits.noises.names
            for name in names:
                for snr in SNRS_DB:
                    splits.noisy_test(name, snr)
            print(f"noisy test sets: {len(names)} noises x {len(SNRS_DB)} SNRs, {time.perf_counter() - t1:.1f} s")
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

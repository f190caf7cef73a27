"""Entry point of experiments/calibrate.py: the calibration of the data readings on dev (docs/readings.md)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from training.arguments import ArgumentParser
from training.errors import UsageError

PROG = "calibrate.py"


def parser() -> argparse.ArgumentParser:
    from audiodata.readings import FEATURE_READINGS, SNR_REFERENCES
    p = ArgumentParser(prog=PROG, description="Calibrate the data readings (feature reading x SNR reference) on dev: "
                       "for each reading and seed, train CNN-FC as train.py does (reusing or filling the classifier "
                       "cache), evaluate it on the dev fold clean and mixed with the built-in training noises (never "
                       "a test noise, never the test fold) at 20-0 dB, and rank the readings by the RMS over the SNRs "
                       "of (our drop - the paper's CNN-FC drop). Writes rows.csv, calibration.md and choice.json to "
                       "--out; a second run reads back what is done.")
    p.add_argument("--features", default=",".join(FEATURE_READINGS), metavar="A,B",
                   help=f"feature readings to compare (default {','.join(FEATURE_READINGS)})")
    p.add_argument("--snr-references", default=",".join(SNR_REFERENCES), metavar="A,B",
                   help=f"SNR references to compare (default {','.join(SNR_REFERENCES)})")
    p.add_argument("--seeds", default="0,1,2", metavar="N,N,...",
                   help="seeds of the classifier and the noise offsets; the synthetic set is the first seed's "
                   "(default 0,1,2)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (reused: finished parts are read back)")
    p.add_argument("--cache-dir", metavar="PATH", help="feature and classifier cache (default $DYCONV_CACHE or "
                   "~/.cache/dyconv)")
    p.add_argument("--clips-per-class", type=int, metavar="N", help="synthetic set only: clips per class per fold "
                   "(default: the data package's size; small values make quick trials)")
    p.add_argument("--epochs", type=int, metavar="N", help="classifier epochs (default: train.py's for the config)")
    p.add_argument("--config", choices=["paper", "small"], help="model widths (default: train.py's default)")
    return p


def _list(text: str, flag: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items or len(set(items)) != len(items):
        raise UsageError(f"{flag}: expected distinct names separated by commas, got {text!r}")
    return items


def main(argv=None) -> int:
    """Exit codes: 0 done, 2 user mistake, 130 interrupted."""
    args = parser().parse_args(argv)
    try:
        from audiodata.readings import feature_reading, snr_reference
        try:
            features = [feature_reading(f) for f in _list(args.features, "--features")]
            references = [snr_reference(r) for r in _list(args.snr_references, "--snr-references")]
        except ValueError as e:
            raise UsageError(str(e)) from None
        try:
            seeds = [int(s) for s in _list(args.seeds, "--seeds")]
        except ValueError:
            raise UsageError(f"--seeds: expected seeds like 0,1,2, got {args.seeds!r}") from None
        extra = [*(["--cache-dir", args.cache_dir] if args.cache_dir else []),
                 *(["--clips-per-class", str(args.clips_per_class)] if args.clips_per_class else []),
                 *(["--epochs", str(args.epochs)] if args.epochs else []),
                 *(["--config", args.config] if args.config else [])]
        from training import options
        options.parse(["--method", "cnn-fc", *extra])  # the shared flags' checks, before any work
        from training.calibration import calibrate
        from training.engine.log import Log, duration

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        log = Log()
        log.to_file(out / "calibrate.log")
        t0 = time.perf_counter()
        text = calibrate([(f, r) for f in features for r in references], seeds, out, extra, log)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    log("\n" + text)
    log(f"done in {duration(time.perf_counter() - t0)}: closest reading first; rows.csv, calibration.md, "
        f"choice.json in {out}")
    return 0

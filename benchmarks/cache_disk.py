"""Disk the feature cache takes in a 10-fold (cv10) run, measured on the built-in synthetic set the way a
cv10 run uses it (per test fold: extract its noisy test sets, evaluate, ``Splits.release_noisy()``), and the
same figures scaled to UrbanSound8K (8732 clips) from the measured bytes per clip.

Example (repository root): python -m benchmarks.cache_disk --clips-per-class 4
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file (python benchmarks/cache_disk.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from audiodata import SNRS_DB, load_splits

US8K_FOLD_SIZES = (873, 888, 925, 990, 936, 823, 838, 806, 816, 837)  # clips per fold, 8732 in all


def du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips-per-class", type=int, default=4, help="synthetic clips per class per fold (default 4)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic set and the noise offsets")
    ap.add_argument("--workers", type=int, default=2, help="extraction processes (default 2)")
    ap.add_argument("--cache-dir", default=None, help="cache to measure in (default: a fresh temporary folder)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(a.cache_dir or tmp)
        t0, peak, kept, clean_bytes, n_clips, per_clip = time.perf_counter(), 0, 0, 0, 0, []
        print("fold  test clips  noisy sets (MB)  whole cache at its peak (MB)  after release_noisy (MB)")
        for fold in range(1, 11):
            s = load_splits(cache_dir=cache, seed=a.seed, clips_per_class=a.clips_per_class, test_fold=fold,
                            workers=a.workers, progress=False)
            for noise in s.noise_names:
                for snr in SNRS_DB:
                    s.noisy_test(noise, snr)
            noisy, total = s.noisy_bytes(), du(cache)
            per_clip.append(noisy / len(s.test))
            kept += noisy
            peak = max(peak, total)
            s.release_noisy()
            print(f"{fold:4d}  {len(s.test):10d}  {noisy / 1e6:15.1f}  {total / 1e6:28.1f}  {du(cache) / 1e6:24.1f}")
            clean_bytes = (s.cache_folder / "clean.npz").stat().st_size
            n_clips = len(s.train) + len(s.dev) + len(s.test)
        final = du(cache)
        conditions = len(s.noise_names) * len(SNRS_DB)
        noisy_clip = max(per_clip)
        manifest_clip = (final - clean_bytes - du(cache / "noises")) / n_clips  # the kept .mix.npz files
        print(f"\nsynthetic set ({n_clips} clips, {conditions} noisy conditions), {time.perf_counter() - t0:.0f} s: "
              f"peak {peak / 1e6:.1f} MB, {final / 1e6:.1f} MB at the end; {kept / 1e6:.1f} MB of noisy sets "
              f"had none been released")
        print(f"per clip: clean {clean_bytes / n_clips:.0f} B, noisy {noisy_clip:.0f} B "
              f"({noisy_clip / conditions:.0f} B per condition), manifests {manifest_clip:.0f} B")
        n = sum(US8K_FOLD_SIZES)
        clean, manifests = n * clean_bytes / n_clips, n * manifest_clip
        largest = max(US8K_FOLD_SIZES) * noisy_clip
        print(f"UrbanSound8K ({n} clips, largest fold {max(US8K_FOLD_SIZES)}), one seed: clean {clean / 1e9:.2f} GB; "
              f"cv10 peak {(clean + manifests + largest) / 1e9:.2f} GB (clean + manifests + the largest fold's "
              f"noisy sets), {(clean + manifests) / 1e9:.2f} GB at the end; without release_noisy "
              f"{(clean + manifests + n * noisy_clip) / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
